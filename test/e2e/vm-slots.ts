import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { repoRoot } from '../support/paths.js';

/** How many guests boot at once: TCG is one busy thread per guest, and CI has two CPUs. */
export const PARALLEL_BOOTS = Math.max(1, Number(process.env.E2E_JOBS ?? 2));

/*
 * A slot is a Unix socket in Linux's abstract namespace that its owner
 * listens on, one name per slot and checkout. Binding is atomic (a second
 * bind fails with EADDRINUSE), so whoever binds has the slot; an abstract
 * socket has no file, so it is gone the moment its owner closes it or dies
 * (a killed test run leaves nothing behind). A waiter connects to every
 * taken slot and waits for one of those connections to close: the owner
 * closes them when it releases its slot, and the kernel closes them when
 * the owner dies, so both are events and no one polls.
 */
const checkout = createHash('sha256').update(repoRoot).digest('hex').slice(0, 16);
const slotName = (i: number) => `\0netboot-e2e-vm-slot-${checkout}-${i}`;

/** Binds slot `i`: the function that releases it, or undefined when another process holds it. */
function bind(i: number): Promise<(() => void) | undefined> {
  return new Promise((resolve, reject) => {
    const waiters = new Set<Socket>();
    const server = createServer((s) => {
      // A waiter's connection: closed on release, so it wakes; it never keeps this process alive.
      s.unref();
      s.on('error', () => {});
      waiters.add(s);
      s.on('close', () => waiters.delete(s));
    });
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    server.listen(slotName(i), () => {
      server.unref();
      resolve(() => {
        server.close();
        for (const s of waiters) s.destroy();
      });
    });
  });
}

/** A connection to the owner of slot `i`, closed when it releases the slot or dies; undefined when it is free now. */
function watchOwner(i: number, onClose: () => void): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(slotName(i));
    socket.once('connect', () => {
      socket.on('close', onClose);
      resolve(socket);
    });
    socket.once('error', () => resolve(undefined)); // ECONNREFUSED: released meanwhile
  });
}

/**
 * Waits for one of PARALLEL_BOOTS guest slots shared by every test file of
 * this checkout (tap runs files in parallel, each booting its own guests),
 * so no more guests run at once than there are CPUs for, whichever files
 * overlap. Call the returned function when the guest has stopped.
 */
export async function takeVmSlot(opts: { timeoutMs?: number; onWait?: () => void } = {}): Promise<() => void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20 * 60_000);
  let waited = false;
  for (;;) {
    let wake = () => {};
    const changed = new Promise<void>((resolve) => (wake = resolve));
    const owners: Socket[] = [];
    const unwatch = () => owners.forEach((s) => s.destroy());
    let freed = false;
    for (let i = 0; i < PARALLEL_BOOTS && !freed; i++) {
      const release = await bind(i);
      if (release) {
        unwatch();
        return release;
      }
      const owner = await watchOwner(i, wake);
      if (owner) owners.push(owner);
      else freed = true; // released between the bind and the connect: try the slots again at once
    }
    if (freed) {
      unwatch();
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      unwatch();
      throw new Error(`no guest slot came free (${PARALLEL_BOOTS} slots) before the deadline`);
    }
    if (!waited) opts.onWait?.();
    waited = true;
    const timer = setTimeout(wake, left);
    await changed;
    clearTimeout(timer);
    unwatch();
  }
}
