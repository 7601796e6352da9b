/**
 * Reads directories ahead of a client's walk. A client walking a tree makes
 * one call at a time: after the READDIRPLUS of a directory it resolves and
 * lists each subdirectory in turn, and on a tree the page cache does not hold
 * each of those listings waits for the disk on the serving thread. Once a
 * listing shows which subdirectories a directory has, they are read here in
 * the thread pool while the client's round trips go on, so their blocks are
 * in the page cache when the client asks.
 *
 * Nothing read here reaches a reply: `warm` only brings blocks into the page
 * cache, and the calls that answer clients read the directory as they always
 * do. Bounded: at most `maxRunning` reads at once (the thread pool is shared
 * with READ, WRITE and COMMIT), at most `maxWaiting` directories waiting (the
 * oldest dropped first: a depth-first walk has moved on from them), and a
 * directory warmed once (by inode) is not warmed again while `maxSeen` others
 * have not pushed it out.
 */
export class DirWarmer {
  /** Waiting reads, the next on top: a walk goes depth first, so the newest listing's subdirectories come first. */
  private readonly waiting: ((done: () => void) => void)[] = [];
  private readonly seen = new Set<bigint>();
  private running = 0;
  private stopped = false;
  private readonly finished = () => {
    this.running--;
    this.pump();
  };

  constructor(
    private readonly maxRunning = 2,
    private readonly maxWaiting = 256,
    private readonly maxSeen = 16_384,
  ) {}

  /**
   * The subdirectories of a directory just listed, in listing order: `inos[i]` is the inode of the one
   * `warm(i, done)` reads, which calls `done` once, whatever happened.
   */
  add(inos: readonly bigint[], warm: (i: number, done: () => void) => void): void {
    if (this.stopped) return;
    // Pushed last to first, so the first listed is on top: the client descends into it first.
    for (let i = inos.length - 1; i >= 0; i--) {
      const ino = inos[i]!;
      if (this.seen.has(ino)) continue;
      if (this.seen.size >= this.maxSeen) this.seen.clear();
      this.seen.add(ino);
      this.waiting.push((done) => warm(i, done));
    }
    this.pump();
    if (this.waiting.length > this.maxWaiting) this.waiting.splice(0, this.waiting.length - this.maxWaiting);
  }

  /** Reads waiting or running. */
  get pending(): number {
    return this.waiting.length + this.running;
  }

  /** No more reads start; those running finish on their own. */
  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.maxRunning && this.waiting.length > 0) {
      this.running++;
      this.waiting.pop()!(this.finished);
    }
  }
}
