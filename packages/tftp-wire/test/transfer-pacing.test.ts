import t from 'tap';
import { TransferPacing } from '@netboot/tftp-wire';

t.test('within the slots every request starts; beyond them it waits, not refused', async (t) => {
  const p = new TransferPacing<string>({ slots: 2, queueMax: 3 });
  t.equal(p.admit('a1', 'A', 'a1', 0), 'start');
  t.equal(p.admit('b1', 'B', 'b1', 0), 'start');
  t.equal(p.admit('c1', 'C', 'c1', 0), 'wait');
  t.equal(p.admit('c1', 'C', 'c1', 100), 'waiting', 'a retransmitted RRQ keeps its place');
  t.equal(p.admit('d1', 'D', 'd1', 0), 'wait');
  t.equal(p.admit('e1', 'E', 'e1', 0), 'wait');
  t.equal(p.admit('f1', 'F', 'f1', 0), 'busy', 'only a full queue refuses');
  t.same(p.load(), { active: 2, waiting: 3, slots: 2 });
  t.same(p.release('A', 10), ['c1'], 'the freed slot goes to the earliest waiting');
  t.same(p.load(), { active: 2, waiting: 2, slots: 2 });
});

t.test('a freed slot goes to the node running fewest transfers', async (t) => {
  const p = new TransferPacing<string>({ slots: 2 });
  t.equal(p.admit('a1', 'A', 'a1', 0), 'start');
  t.equal(p.admit('a2', 'A', 'a2', 0), 'start');
  t.equal(p.admit('a3', 'A', 'a3', 0), 'wait', 'node A asks for a third file first');
  t.equal(p.admit('b1', 'B', 'b1', 1), 'wait');
  t.same(p.release('A', 2), ['b1'], 'B runs nothing: it goes before A\'s earlier request');
  t.same(p.release('B', 3), ['a3']);
  t.same(p.load(), { active: 2, waiting: 0, slots: 2 });
});

t.test('no request overtakes the queue', async (t) => {
  const p = new TransferPacing<string>({ slots: 1 });
  t.equal(p.admit('a', 'A', 'a', 0), 'start');
  t.equal(p.admit('b', 'B', 'b', 0), 'wait');
  t.same(p.release('A', 1), ['b']);
  t.equal(p.admit('c', 'C', 'c', 1), 'wait');
});

t.test('a waiting request its client stopped repeating is forgotten', async (t) => {
  const p = new TransferPacing<string>({ slots: 1, waitMs: 1000 });
  t.equal(p.admit('a', 'A', 'a', 0), 'start');
  t.equal(p.admit('b', 'B', 'b', 0), 'wait');
  t.equal(p.admit('c', 'C', 'c', 500), 'wait');
  t.equal(p.admit('b', 'B', 'b', 900), 'waiting', 'B repeats its request');
  t.same(p.expire(1600), ['c'], 'C gave up');
  t.same(p.release('A', 1700), ['b']);
  t.same(p.release('B', 5000), [], 'nothing waits');
  t.same(p.release('B', 5000), [], 'a release without a transfer changes nothing');
  t.same(p.load(), { active: 0, waiting: 0, slots: 1 });
});

t.test('slots must be a positive integer', async (t) => {
  t.throws(() => new TransferPacing({ slots: 0 }), RangeError);
  t.throws(() => new TransferPacing({ slots: 1.5 }), RangeError);
});
