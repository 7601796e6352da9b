import t from 'tap';
import fc from 'fast-check';
import { LockTable, Nlm4Stat, ShareAccess, ShareMode, TO_EOF, type LockOwner, type LockRequest } from '@netboot/nlm';

const fh = Buffer.from('file-one');
const fh2 = Buffer.from('file-two');
const owner = (host: string, svid = 1): LockOwner => ({ host, svid, oh: Buffer.from(`${svid}@${host}`) });
const A = owner('a');
const B = owner('b');
const C = owner('c');
const req = (o: LockOwner, exclusive: boolean, offset: number, length: number, file = fh): LockRequest => ({
  fh: file,
  owner: o,
  exclusive,
  offset: BigInt(offset),
  length: BigInt(length),
});
const plain = (table: LockTable<any>, file = fh) =>
  table.locksOf(file).map((l) => `${l.owner.host}${l.exclusive ? 'X' : 'S'}${l.offset}+${l.length}`).sort();
const now = { block: false, reclaim: false, context: '' };
const wait = { block: true, reclaim: false, context: '' };

t.test('shared locks coexist, exclusive ones conflict, TEST names the holder', async (t) => {
  const table = new LockTable<string>();
  t.same(table.lock(req(A, false, 0, 10), now), { stat: Nlm4Stat.GRANTED });
  t.same(table.lock(req(B, false, 5, 10), now), { stat: Nlm4Stat.GRANTED }, 'two shared locks overlap');
  const denied = table.lock(req(C, true, 8, 1), now);
  t.equal(denied.stat, Nlm4Stat.DENIED);
  t.match(table.test(req(C, true, 12, 0)), { stat: Nlm4Stat.DENIED, holder: { exclusive: false, svid: 1, offset: 5n, length: 10n } }, 'the holder of bytes 5-14');
  t.same(table.test(req(C, true, 15, 0)), { stat: Nlm4Stat.GRANTED }, 'past both locks');
  t.same(table.test(req(A, true, 0, 5)), { stat: Nlm4Stat.GRANTED }, "an owner's own locks never conflict with it");
  t.same(table.test(req(C, false, 0, 0)), { stat: Nlm4Stat.GRANTED }, 'shared over shared');
  t.same(table.test(req(C, true, 0, 1, fh2)), { stat: Nlm4Stat.GRANTED }, 'another file is another table');
});

t.test("an owner's locks split on unlock and merge when they touch, as fcntl's", async (t) => {
  const table = new LockTable<string>();
  table.lock(req(A, true, 0, 100), now);
  table.unlock(req(A, false, 40, 10));
  t.same(plain(table), ['aX0+40', 'aX50+50'], 'unlocking the middle leaves two pieces');
  table.lock(req(A, true, 40, 10), now);
  t.same(plain(table), ['aX0+100'], 'filling the hole merges them back');
  table.lock(req(A, false, 20, 10), now);
  t.same(plain(table), ['aS20+10', 'aX0+20', 'aX30+70'], 'a shared lock inside an exclusive one replaces that part');
  table.lock(req(A, true, 90, 0), now);
  t.same(plain(table), ['aS20+10', 'aX0+20', 'aX30+0'], 'length 0 reaches to the end of the file and merges');
  t.equal(table.locksOf(fh).find((l) => l.offset === 30n)?.length, 0n);
  table.unlock(req(A, false, 0, 0));
  t.same(plain(table), [], 'unlocking 0 to the end releases everything');
  t.equal(table.size, 0, 'nothing is counted');
});

t.test('ranges at the top of the 64-bit space', async (t) => {
  const table = new LockTable<string>();
  const top = 2n ** 64n - 1n;
  t.same(table.lock({ ...req(A, true, 0, 0), offset: top, length: 10n }, now), { stat: Nlm4Stat.GRANTED }, 'a range running past 2^64 is cut at 2^64');
  t.match(table.test({ ...req(B, true, 0, 0), offset: top - 1n }), { stat: Nlm4Stat.DENIED, holder: { offset: top, length: 0n } }, 'reported as reaching to the end');
  t.equal(TO_EOF, 2n ** 64n);
});

t.test('blocked requests wait in order and are granted as conflicts go', async (t) => {
  const table = new LockTable<string>();
  table.lock(req(A, true, 0, 10), now);
  t.same(table.lock(req(B, true, 0, 10), { ...wait, context: 'b' }), { stat: Nlm4Stat.BLOCKED });
  t.same(table.lock(req(C, false, 5, 1), { ...wait, context: 'c' }), { stat: Nlm4Stat.BLOCKED });
  t.same(table.lock(req(B, true, 0, 10), { ...wait, context: 'b again' }), { stat: Nlm4Stat.BLOCKED }, 'a retransmission');
  t.equal(table.waitersOf(fh).length, 2, 'keeps its place, no duplicate');
  t.same(table.takeGrants(), []);
  table.unlock(req(A, false, 0, 10));
  const grants = table.takeGrants();
  t.same(grants.map((g) => g.context), ['b again'], 'the first in line gets it, with the latest context; the second still conflicts');
  t.same(plain(table), ['bX0+10']);
  table.unlock(req(B, false, 0, 0));
  t.same(table.takeGrants().map((g) => g.context), ['c']);
  t.same(table.waitersOf(fh), []);
  t.same(table.lock(req(C, false, 5, 1), { ...wait, context: 'c' }), { stat: Nlm4Stat.GRANTED }, 'a client asking again for a lock it was granted gets GRANTED');
});

t.test('a downgrade to shared lets shared waiters in', async (t) => {
  const table = new LockTable<string>();
  table.lock(req(A, true, 0, 10), now);
  table.lock(req(B, false, 0, 10), { ...wait, context: 'b' });
  table.lock(req(A, false, 0, 10), now);
  t.same(table.takeGrants().map((g) => g.context), ['b']);
});

t.test('CANCEL drops a blocked request; UNLOCK drops the owner\'s blocked requests there too', async (t) => {
  const table = new LockTable<string>();
  table.lock(req(A, true, 0, 10), now);
  table.lock(req(B, true, 0, 10), { ...wait, context: 'b' });
  t.notOk(table.cancel(req(B, true, 0, 5)), 'another range is not that request');
  t.ok(table.cancel(req(B, true, 0, 10)));
  t.notOk(table.cancel(req(B, true, 0, 10)), 'only once');
  table.lock(req(C, true, 2, 2), { ...wait, context: 'c' });
  table.unlock(req(C, false, 0, 0));
  t.same(table.waitersOf(fh), []);
  table.unlock(req(A, false, 0, 10));
  t.same(table.takeGrants(), [], 'nobody was waiting any more');
});

t.test('a wait-for cycle is NLM4_DEADLCK', async (t) => {
  const table = new LockTable<string>();
  table.lock(req(A, true, 0, 1), now);
  table.lock(req(B, true, 0, 1, fh2), now);
  t.same(table.lock(req(A, true, 0, 1, fh2), wait), { stat: Nlm4Stat.BLOCKED }, 'a waits for b');
  t.same(table.lock(req(B, true, 0, 1), wait), { stat: Nlm4Stat.DEADLCK }, 'b would wait for a');
  table.lock(req(C, true, 5, 1), now);
  t.same(table.lock(req(B, true, 5, 1), wait), { stat: Nlm4Stat.BLOCKED }, 'waiting for c is no cycle');
  t.same(table.lock(req(C, true, 0, 1, fh2), wait), { stat: Nlm4Stat.DEADLCK }, 'c -> b -> ... no: c waits for b, b waits for c');
  t.same(table.lock(req(B, true, 0, 1), now).stat, Nlm4Stat.DENIED, 'without block a conflict is only DENIED');
});

t.test('grace period: only reclaims, until it ends', async (t) => {
  const table = new LockTable<string>({ grace: true });
  t.same(table.lock(req(A, true, 0, 1), now), { stat: Nlm4Stat.DENIED_GRACE_PERIOD });
  t.same(table.test(req(A, true, 0, 1)), { stat: Nlm4Stat.DENIED_GRACE_PERIOD });
  t.same(table.lock(req(A, true, 0, 1), { ...now, reclaim: true }), { stat: Nlm4Stat.GRANTED }, 'a reclaim is granted');
  t.equal(table.share(fh, { host: 'b', oh: Buffer.from('x') }, ShareMode.DN, ShareAccess.R, false), Nlm4Stat.DENIED_GRACE_PERIOD);
  table.unlock(req(A, false, 0, 1));
  t.same(plain(table), [], 'UNLOCK works during grace');
  table.endGrace();
  t.notOk(table.inGrace);
  t.same(table.lock(req(A, true, 0, 1), now), { stat: Nlm4Stat.GRANTED });
});

t.test('SHARE reservations: access against deny modes, both ways', async (t) => {
  const table = new LockTable<string>();
  const pc1 = { host: 'pc1', oh: Buffer.from('1') };
  const pc2 = { host: 'pc2', oh: Buffer.from('2') };
  t.equal(table.share(fh, pc1, ShareMode.DW, ShareAccess.R, false), Nlm4Stat.GRANTED, 'read, deny writers');
  t.equal(table.share(fh, pc2, ShareMode.DN, ShareAccess.W, false), Nlm4Stat.DENIED, 'a writer is denied');
  t.equal(table.share(fh, pc2, ShareMode.DN, ShareAccess.R, false), Nlm4Stat.GRANTED, 'a reader is not');
  t.equal(table.share(fh, { host: 'pc3', oh: Buffer.from('3') }, ShareMode.DR, ShareAccess.R, false), Nlm4Stat.DENIED, 'denying readers while others read');
  t.equal(table.share(fh, pc1, ShareMode.DN, ShareAccess.RW, false), Nlm4Stat.GRANTED, 'an owner replaces its own reservation');
  table.unshare(fh, pc1);
  table.unshare(fh, pc2);
  t.equal(table.share(fh, pc2, ShareMode.DRW, ShareAccess.RW, false), Nlm4Stat.GRANTED);
});

t.test('freeHost releases everything a host held or waited for, and wakes others', async (t) => {
  const table = new LockTable<string>();
  table.lock(req(A, true, 0, 10), now);
  table.lock(req(owner('a', 2), true, 0, 10, fh2), now);
  table.lock(req(B, true, 0, 10), { ...wait, context: 'b' });
  table.lock(req(A, true, 0, 10, fh2), { ...wait, context: 'a' });
  table.share(fh, { host: 'a', oh: Buffer.from('s') }, ShareMode.DRW, ShareAccess.RW, false);
  table.freeHost('a');
  t.same(table.takeGrants().map((g) => g.context), ['b']);
  t.same(plain(table), ['bX0+10']);
  t.same(plain(table, fh2), []);
  t.same([...table.hosts()], ['b']);
  t.equal(table.size, 1);
});

t.test('a full table answers NLM4_DENIED_NOLOCKS', async (t) => {
  const table = new LockTable<string>({ maxEntries: 3 });
  t.equal(table.lock(req(A, true, 0, 1), now).stat, Nlm4Stat.GRANTED);
  t.equal(table.lock(req(A, true, 2, 1), now).stat, Nlm4Stat.GRANTED);
  t.equal(table.lock(req(A, true, 4, 1), now).stat, Nlm4Stat.DENIED_NOLOCKS);
});

/*
 * The model: a file of 16 bytes (length 0 covers them to the end), each
 * byte holding each owner's lock kind; blocked requests in a list granted
 * in order. The table must agree with it after every step of random
 * sequences of LOCK (blocking or not), UNLOCK, CANCEL and TEST, and keep
 * its ranges canonical (an owner's ranges of one kind never touch).
 */
type Kind = 'S' | 'X';
interface ModelWaiter {
  o: number;
  x: boolean;
  s: number;
  e: number;
}

const SIZE = 16;
const owners = [owner('a'), owner('b'), owner('c', 7)];

class Model {
  bytes: Map<number, Kind>[] = Array.from({ length: SIZE }, () => new Map());
  waiters: ModelWaiter[] = [];
  granted: number[] = [];

  conflicts(o: number, x: boolean, s: number, e: number): number[] {
    const out = new Set<number>();
    for (let i = s; i < e; i++) for (const [p, k] of this.bytes[i]) if (p !== o && (k === 'X' || x)) out.add(p);
    return [...out];
  }
  set(o: number, x: boolean, s: number, e: number): void {
    for (let i = s; i < e; i++) this.bytes[i].set(o, x ? 'X' : 'S');
  }
  clear(o: number, s: number, e: number): void {
    for (let i = s; i < e; i++) this.bytes[i].delete(o);
  }
  wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.conflicts(w.o, w.x, w.s, w.e).length > 0) return true;
      this.set(w.o, w.x, w.s, w.e);
      this.granted.push(w.o);
      return false;
    });
  }
  cycle(o: number, x: boolean, s: number, e: number): boolean {
    const seen = new Set<number>();
    const stack = this.conflicts(o, x, s, e);
    while (stack.length) {
      const p = stack.pop()!;
      if (p === o) return true;
      if (seen.has(p)) continue;
      seen.add(p);
      for (const w of this.waiters.filter((w) => w.o === p)) stack.push(...this.conflicts(w.o, w.x, w.s, w.e));
    }
    return false;
  }
}

const range = fc.record({ s: fc.integer({ min: 0, max: SIZE - 1 }), len: fc.integer({ min: 0, max: 6 }) });
const op = fc.oneof(
  fc.record({ op: fc.constant('lock' as const), o: fc.integer({ min: 0, max: 2 }), x: fc.boolean(), block: fc.boolean(), r: range }),
  fc.record({ op: fc.constant('unlock' as const), o: fc.integer({ min: 0, max: 2 }), x: fc.constant(false), block: fc.constant(false), r: range }),
  fc.record({ op: fc.constant('cancel' as const), o: fc.integer({ min: 0, max: 2 }), x: fc.boolean(), block: fc.constant(true), r: range }),
  fc.record({ op: fc.constant('test' as const), o: fc.integer({ min: 0, max: 2 }), x: fc.boolean(), block: fc.constant(false), r: range }),
);

t.test('agrees with a byte-by-byte model over random sequences', async (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const table = new LockTable<number>();
      const m = new Model();
      for (const { op: kind, o, x, block, r } of ops) {
        const s = r.s;
        const e = r.len === 0 ? SIZE : Math.min(SIZE, s + r.len);
        const rq = req(owners[o]!, x, s, r.len);
        if (kind === 'lock') {
          const out = table.lock(rq, { block, reclaim: false, context: o });
          const c = m.conflicts(o, x, s, e);
          if (c.length === 0) {
            if (out.stat !== Nlm4Stat.GRANTED) throw new Error(`expected GRANTED, got ${out.stat}`);
            m.waiters = m.waiters.filter((w) => !(w.o === o && w.s === s && w.e === e && w.x === x));
            m.set(o, x, s, e);
            m.wake();
          } else if (!block) {
            if (out.stat !== Nlm4Stat.DENIED) throw new Error(`expected DENIED, got ${out.stat}`);
            const h = owners.findIndex((p) => p.svid === out.holder.svid && p.oh.equals(out.holder.oh));
            if (!c.includes(h)) throw new Error(`holder ${h} is not among the conflicting owners ${c}`);
          } else if (m.waiters.some((w) => w.o === o && w.s === s && w.e === e && w.x === x)) {
            if (out.stat !== Nlm4Stat.BLOCKED) throw new Error(`retransmission: expected BLOCKED, got ${out.stat}`);
          } else if (m.cycle(o, x, s, e)) {
            if (out.stat !== Nlm4Stat.DEADLCK) throw new Error(`expected DEADLCK, got ${out.stat}`);
          } else {
            if (out.stat !== Nlm4Stat.BLOCKED) throw new Error(`expected BLOCKED, got ${out.stat}`);
            m.waiters.push({ o, x, s, e });
          }
        } else if (kind === 'unlock') {
          table.unlock(rq);
          m.waiters = m.waiters.filter((w) => !(w.o === o && w.s < e && s < w.e));
          m.clear(o, s, e);
          m.wake();
        } else if (kind === 'cancel') {
          const had = m.waiters.some((w) => w.o === o && w.s === s && w.e === e && w.x === x);
          if (table.cancel(rq) !== had) throw new Error(`cancel said ${!had}`);
          m.waiters = m.waiters.filter((w) => !(w.o === o && w.s === s && w.e === e && w.x === x));
        } else {
          const out = table.test(rq);
          const c = m.conflicts(o, x, s, e);
          if ((out.stat === Nlm4Stat.GRANTED) !== (c.length === 0)) throw new Error(`TEST said ${out.stat}, model conflicts ${c}`);
        }
        // The held locks, byte by byte, and canonical.
        const held = table.locksOf(fh);
        const bytes: Map<number, Kind>[] = Array.from({ length: SIZE }, () => new Map());
        for (const l of held) {
          const who = owners.findIndex((p) => p.host === l.owner.host && p.svid === l.owner.svid);
          const end = l.length === 0n ? SIZE : Number(l.offset + l.length);
          for (let i = Number(l.offset); i < Math.min(end, SIZE); i++) {
            if (bytes[i]!.has(who)) throw new Error(`owner ${who} has two ranges over byte ${i}`);
            bytes[i]!.set(who, l.exclusive ? 'X' : 'S');
          }
          for (const k of held) {
            if (k === l || k.owner !== l.owner || k.exclusive !== l.exclusive) continue;
            const kEnd = k.length === 0n ? 2n ** 64n : k.offset + k.length;
            if (kEnd === l.offset) throw new Error('two touching ranges of one owner and kind were not merged');
          }
        }
        for (let i = 0; i < SIZE; i++) {
          const a = [...bytes[i]!].sort().join();
          const b = [...m.bytes[i]!].sort().join();
          if (a !== b) throw new Error(`byte ${i}: table ${a}, model ${b}`);
        }
        const grants = table.takeGrants().map((g) => g.context);
        if (grants.join() !== m.granted.join()) throw new Error(`grants ${grants}, model ${m.granted}`);
        m.granted = [];
        if (table.waitersOf(fh).length !== m.waiters.length) throw new Error('waiter count differs');
      }
      return true;
    }),
    { seed: 42, numRuns: 400 },
  );
  t.pass();
});
