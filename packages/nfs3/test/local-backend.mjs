// A WorkerBackend for workers.test.ts (plain JavaScript: worker threads load no TypeScript): it serves no
// export itself, so every export, pinned ones too, is a local directory, and it says on which thread each
// export was opened.
import { threadId } from 'node:worker_threads';

export async function localOnly(tag, { log }) {
  return async (def) => {
    log(`${tag}: ${def.path} opened on thread ${threadId}`);
    return undefined;
  };
}
