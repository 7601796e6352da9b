import t from 'tap';
import fc from 'fast-check';
import { RateLimitedLog } from '@netboot/log-text';

t.test('a burst per window, then one summary before the next line', (t) => {
  let now = 0;
  const lines: string[] = [];
  const log = new RateLimitedLog((l) => lines.push(l), { windowMs: 1000, burst: 3, now: () => now });
  for (let i = 0; i < 10; i++) log.log('bad', `bad ${i}`);
  log.log('other', 'other 0');
  t.same(lines, ['bad 0', 'bad 1', 'bad 2', 'other 0'], 'each key has its own burst');
  now = 1000;
  log.log('bad', 'bad 10');
  t.same(lines.slice(4), ['bad: 7 similar messages suppressed', 'bad 10']);
  t.end();
});

t.test('a level travels with each line and its summary', (t) => {
  let now = 0;
  const lines: [string, string][] = [];
  const log = new RateLimitedLog<'debug' | 'warning'>((l, level) => lines.push([level, l]), { burst: 1, windowMs: 10, now: () => now });
  log.log('malformed', 'one', 'warning');
  log.log('malformed', 'two', 'warning');
  now = 10;
  log.log('malformed', 'three', 'warning');
  log.log('tid', 'stray', 'debug');
  t.same(lines, [
    ['warning', 'one'],
    ['warning', 'malformed: 1 similar messages suppressed'],
    ['warning', 'three'],
    ['debug', 'stray'],
  ]);
  t.end();
});

t.test('keys are bounded: the oldest window is forgotten first', (t) => {
  const lines: string[] = [];
  const log = new RateLimitedLog((l) => lines.push(l), { burst: 1, maxKeys: 2, now: () => 0 });
  log.log('a', 'a1');
  log.log('b', 'b1');
  log.log('c', 'c1'); // forgets a
  log.log('a', 'a2'); // a new window for a; forgets b
  log.log('c', 'c2'); // c still counted: suppressed
  t.same(lines, ['a1', 'b1', 'c1', 'a2']);
  t.end();
});

t.test('property: per key and window at most `burst` lines; every line is written, summarised or pending', (t) => {
  const event = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), dt: fc.nat({ max: 400 }) });
  fc.assert(
    fc.property(fc.array(event, { maxLength: 300 }), fc.integer({ min: 1, max: 6 }), (events, burst) => {
      let now = 0;
      let written = 0;
      let summarised = 0;
      const log = new RateLimitedLog(
        (l) => {
          const m = /^\w: (\d+) similar messages suppressed$/.exec(l);
          if (m) summarised += Number(m[1]);
          else written++;
        },
        { burst, windowMs: 1000, now: () => now },
      );
      const perWindow = new Map<string, { start: number; n: number }>();
      for (const [i, e] of events.entries()) {
        now += e.dt;
        const before = written;
        log.log(e.key, `${e.key} ${i}`);
        if (written > before) {
          const w = perWindow.get(e.key);
          if (!w || now - w.start >= 1000) perWindow.set(e.key, { start: now, n: 1 });
          else if (++w.n > burst) return false;
        }
      }
      // Lines neither written nor summarised yet wait in open windows.
      return written + summarised <= events.length && written >= Math.min(events.length, burst);
    }),
    { seed: 24, numRuns: 500 },
  );
  t.pass('the bound and the accounting hold');
  t.end();
});
