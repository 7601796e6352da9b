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
