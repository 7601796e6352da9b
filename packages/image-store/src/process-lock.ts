import { open, readFile, unlink } from 'node:fs/promises';

/**
 * An exclusive lock file holding the owner's pid. A lock whose owner is
 * gone (killed with -9 mid-import) is taken over, so a crash never blocks
 * the next run.
 */
export async function acquireLock(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => unlink(path).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(`${what} is in progress in process ${pid}; wait for it, or remove ${path} if that process is not netboot`);
      }
      await unlink(path).catch(() => {});
    }
  }
  throw new Error(`could not take the lock ${path}; remove it if no netboot process is running`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
