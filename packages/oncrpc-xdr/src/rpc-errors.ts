import { AcceptStat, AuthStat, RejectStat } from './rpc-constants.js';

function nameOf(table: Record<string, number>, v: number): string {
  return Object.keys(table).find((k) => table[k] === v) ?? String(v);
}

/** The server accepted the call but did not run it successfully (PROG_UNAVAIL, PROG_MISMATCH, ...). */
export class RpcAcceptError extends Error {
  override name = 'RpcAcceptError';
  constructor(
    readonly stat: number,
    readonly low?: number,
    readonly high?: number,
  ) {
    super(
      `RPC call accepted but failed: ${nameOf(AcceptStat, stat)}` +
        (stat === AcceptStat.PROG_MISMATCH ? ` (server supports versions ${low}..${high})` : ''),
    );
  }
}

/** The server denied the call: RPC_MISMATCH (low/high) or AUTH_ERROR (authStat). */
export class RpcDeniedError extends Error {
  override name = 'RpcDeniedError';
  constructor(
    readonly rejectStat: number,
    readonly authStat?: number,
    readonly low?: number,
    readonly high?: number,
  ) {
    super(
      rejectStat === RejectStat.RPC_MISMATCH
        ? `RPC call denied: RPC_MISMATCH (server speaks RPC versions ${low}..${high})`
        : `RPC call denied: AUTH_ERROR ${nameOf(AuthStat, authStat ?? -1)}`,
    );
  }
}

/** No reply within the call's time limit (after every retransmission). */
export class RpcTimeoutError extends Error {
  override name = 'RpcTimeoutError';
  constructor(
    readonly xid: number,
    readonly timeoutMs: number,
    target: string,
  ) {
    super(`no RPC reply from ${target} within ${timeoutMs} ms (xid ${xid}); is the server running and reachable?`);
  }
}

/** The connection carrying the call closed (or the client was closed) before the reply came. */
export class RpcConnectionError extends Error {
  override name = 'RpcConnectionError';
  /** The system error code behind it (ECONNREFUSED, ECONNRESET, ...), if any. */
  readonly code?: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    const code = (options?.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code) this.code = code;
  }

  /** Wraps a socket error with the target and, for the common cases, what to check. */
  static from(target: string, e: Error): RpcConnectionError {
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      code === 'ECONNREFUSED'
        ? 'connection refused; is the server running on that port?'
        : code === 'ECONNRESET'
          ? 'the server reset the connection'
          : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
            ? 'no route to the host; check the address'
            : e.message;
    return new RpcConnectionError(`${target}: ${hint}`, { cause: e });
  }
}
