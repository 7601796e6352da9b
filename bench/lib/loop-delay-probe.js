// Loaded into a server by bench/serve-loop-delay.js (NODE_OPTIONS="--import <this file>"): samples
// the event loop's delay with perf_hooks.monitorEventLoopDelay and, on SIGUSR2, appends what it saw
// since the last signal to $NETBOOT_LOOP_DELAY_OUT.<pid> as one JSON line (milliseconds), then resets.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const out = process.env.NETBOOT_LOOP_DELAY_OUT;
if (out) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const ms = (ns) => +(ns / 1e6).toFixed(3);
  process.on('SIGUSR2', () => {
    const line = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), p999: ms(h.percentile(99.9)), max: ms(h.max), mean: ms(h.mean), samples: h.count };
    appendFileSync(`${out}.${process.pid}`, `${JSON.stringify(line)}\n`);
    h.reset();
  });
}
