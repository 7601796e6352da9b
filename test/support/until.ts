/**
 * Polls `check` until it holds: the last resort for state that announces no
 * event (a counter a handler bumps, a pool's count), a bounded loop of one
 * check every `everyMs`. Rejects after `timeoutMs` naming `what`: a bound
 * for a hang, not a speed limit. Wait on the event itself where there is one
 * (`once(emitter, name)`, a process's `waitFor`).
 */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000, everyMs = 5): Promise<void> {
  for (let tries = Math.ceil(timeoutMs / everyMs); !check(); tries--) {
    if (tries <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `until` for a check that must ask another process (a query over HTTP): one ask at a time, `everyMs` between. */
export async function untilAsync(check: () => Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let tries = Math.ceil(timeoutMs / everyMs); !(await check()); tries--) {
    if (tries <= 0 || Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
