import { performance } from 'node:perf_hooks';
import type { ProcedureHandler, RpcCall, RpcResult } from '@netboot/oncrpc-xdr';

/**
 * Watches NFS calls at the dispatch seam, outside the procedures (boot
 * monitoring). Handlers are wrapped only when an observer is given, so a
 * server without one runs the procedures exactly as registered.
 */
export interface NfsCallObserver {
  /**
   * The procedures whose argument or result bytes `start` and `done` read.
   * Calls served on worker threads reach the observer on the main thread
   * with those bytes copied for these procedures only (for all when absent).
   */
  readonly readsBytesOf?: readonly number[];
  /**
   * Before the procedure runs: `call.args` is positioned at its arguments
   * and valid only now (the record's buffer is reused after the reply).
   * What it returns is handed back to `done`.
   */
  start?(call: RpcCall): unknown;
  /**
   * After the reply was built: the NFS status (0 for NFS3_OK, -1 when the
   * call failed at the RPC level), the first chunk of the encoded result
   * (its status first; valid only during this call), and the time taken.
   */
  done(call: RpcCall, status: number, body: Uint8Array | undefined, ms: number, started: unknown): void;
}

function statusOf(r: RpcResult): { status: number; body: Uint8Array | undefined } {
  if (r.stat !== 0) return { status: -1, body: undefined };
  const b = r.body[0];
  if (!b || b.length < 4) return { status: 0, body: b };
  return { status: ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, body: b };
}

/** The same procedures, each reporting to `observer`. */
export function observeCalls(procs: Record<number, ProcedureHandler>, observer: NfsCallObserver): Record<number, ProcedureHandler> {
  const out: Record<number, ProcedureHandler> = {};
  for (const [proc, handler] of Object.entries(procs)) {
    out[Number(proc)] = (call) => {
      const t0 = performance.now();
      const token = observer.start?.(call);
      const report = (r: RpcResult) => {
        const { status, body } = statusOf(r);
        observer.done(call, status, body, performance.now() - t0, token);
        return r;
      };
      const r = handler(call);
      return r instanceof Promise ? r.then(report) : report(r);
    };
  }
  return out;
}
