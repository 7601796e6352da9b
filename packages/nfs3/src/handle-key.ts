import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The secret that signs file handles. It lives in the state directory so
 * that handles a client holds stay valid across a restart; without a state
 * directory every start makes a new one (handles then go BADHANDLE on restart).
 */
export async function loadHandleKey(stateDir: string | undefined): Promise<Buffer> {
  if (!stateDir) return randomBytes(32);
  const file = join(stateDir, 'nfs-handle.key');
  try {
    const key = await readFile(file);
    if (key.length === 32) return key;
    throw new Error(`${file} holds ${key.length} bytes, not a 32-byte key: remove it to make a new one (clients must remount)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return readFile(file);
}

/**
 * A handle key the admin keeps in a file of its own (--handle-key), so two
 * servers over the same tree sign handles alike and each accepts the
 * other's. It must exist and hold 32 bytes: a server that made up a key of
 * its own would silently disagree with its peer.
 */
export async function readHandleKeyFile(file: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `cannot read the handle key ${file} (${code ?? (err as Error).message}); make one with "head -c 32 /dev/urandom > ${file}; chmod 600 ${file}" and give the same file to every server of the tree`,
    );
  }
  if (key.length !== 32) throw new Error(`${file} holds ${key.length} bytes; a handle key is 32 bytes (head -c 32 /dev/urandom > ${file})`);
  return key;
}
