import { mkdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

/** How many guests boot at once: TCG is one busy thread per guest, and CI has two CPUs. */
export const PARALLEL_BOOTS = Math.max(1, Number(process.env.E2E_JOBS ?? 2));

const SLOTS = join(repoRoot, '.cache', 'e2e-vm-slots');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A slot whose owner died (a killed test run) without releasing it. */
function stale(slot: string): boolean {
  try {
    const pid = Number(readFileSync(join(slot, 'pid'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 && !alive(pid);
  } catch {
    // Taken but its pid not written yet, or gone meanwhile: stale only if left like that for long.
    try {
      return Date.now() - statSync(slot).mtimeMs > 30_000;
    } catch {
      return false;
    }
  }
}

/** How often a waiter looks for slots whose owner died holding them: no event tells of that. */
const STALE_CHECK_MS = 5000;

/**
 * Resolves on the next change among the slots (an owner released its slot),
 * or after `ms` at the latest; `cancel` stops the watch early.
 */
function slotChange(ms: number): { changed: Promise<void>; cancel: () => void } {
  let cancel = () => {};
  const changed = new Promise<void>((resolve) => {
    const watcher = watch(SLOTS, () => cancel());
    const timer = setTimeout(() => cancel(), ms);
    cancel = () => {
      clearTimeout(timer);
      watcher.close();
      resolve();
    };
  });
  return { changed, cancel };
}

/**
 * Waits for one of PARALLEL_BOOTS guest slots shared by every test file of
 * this checkout (tap runs files in parallel, each booting its own guests),
 * so no more guests run at once than there are CPUs for, whichever files
 * overlap. A slot is a directory made with mkdir (atomic) holding its
 * owner's pid; call the returned function when the guest has stopped.
 */
export async function takeVmSlot(opts: { timeoutMs?: number; onWait?: () => void } = {}): Promise<() => void> {
  mkdirSync(SLOTS, { recursive: true });
  const deadline = Date.now() + (opts.timeoutMs ?? 20 * 60_000);
  let waited = false;
  for (;;) {
    // Watched before the slots are tried, so a release between the two is not missed.
    const next = slotChange(STALE_CHECK_MS);
    for (let i = 0; i < PARALLEL_BOOTS; i++) {
      const slot = join(SLOTS, `slot-${i}`);
      try {
        mkdirSync(slot);
      } catch {
        if (stale(slot)) rmSync(slot, { recursive: true, force: true });
        continue;
      }
      next.cancel();
      writeFileSync(join(slot, 'pid'), String(process.pid));
      return () => rmSync(slot, { recursive: true, force: true });
    }
    if (Date.now() > deadline) {
      next.cancel();
      throw new Error(`no guest slot came free in ${SLOTS} (${PARALLEL_BOOTS} slots) before the deadline`);
    }
    if (!waited) opts.onWait?.();
    waited = true;
    await next.changed;
  }
}
