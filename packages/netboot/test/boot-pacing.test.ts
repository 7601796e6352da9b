import t from 'tap';
import { MAX_OFFER_DELAY_MS, offerDelayMs } from '../src/serve/boot-pacing.js';

t.test('no delay while a transfer slot is free', async (t) => {
  t.equal(offerDelayMs({ active: 0, waiting: 0, slots: 4 }), 0);
  t.equal(offerDelayMs({ active: 3, waiting: 0, slots: 4 }), 0);
});

t.test('once the slots are taken, the delay grows with the backlog up to the cap', async (t) => {
  t.equal(offerDelayMs({ active: 4, waiting: 0, slots: 4 }), 750, 'the slots just full: a quarter');
  t.equal(offerDelayMs({ active: 4, waiting: 1, slots: 4 }), 1500);
  t.equal(offerDelayMs({ active: 4, waiting: 3, slots: 4 }), MAX_OFFER_DELAY_MS, 'a whole round waiting: the cap');
  t.equal(offerDelayMs({ active: 4, waiting: 400, slots: 4 }), MAX_OFFER_DELAY_MS, 'never beyond the cap');
  t.ok(MAX_OFFER_DELAY_MS < 4000, "within a PXE ROM's first DISCOVER retry");
});

t.test('the delay never falls as the backlog grows', async (t) => {
  const delays = Array.from({ length: 600 }, (_, waiting) => offerDelayMs({ active: 256, waiting, slots: 256 }));
  t.ok(delays.every((d, i) => i === 0 || d >= delays[i - 1]), 'monotonic in the backlog');
  t.equal(delays[599], MAX_OFFER_DELAY_MS);
});
