import { credentialFromOpaqueAuth, type Credential } from './credential.js';
import { AUTH_NONE_AUTH, decodeOpaqueAuth } from './opaque-auth.js';
import { AcceptStat, AuthStat, MsgType, RejectStat, RPC_VERSION } from './rpc-constants.js';
import { encodeRpcMessage, type AcceptedReply, type RejectedReply } from './rpc-message.js';
import { XdrError } from './xdr-error.js';
import { XdrReader } from './xdr-reader.js';

export interface RpcEndpoint {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** One incoming call as a procedure handler sees it. */
export interface RpcCall {
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  cred: Credential;
  /** Positioned at the procedure arguments; its window ends at the end of the record. */
  args: XdrReader;
  transport: 'udp' | 'tcp';
  remote: RpcEndpoint;
  /** On UDP sockets bound to a wildcard address this is the wildcard address. */
  local: { address: string; port: number };
  /**
   * TCP: how many other calls of the same connection were running or read and waiting to start when this
   * one started (0: the client waits on this call alone). Undefined on UDP.
   */
  others?: number;
}

/**
 * What a handler returns. SUCCESS carries the encoded results as chunks that
 * the server writes as one vector after the reply header; `onSent` (if
 * given) runs once the chunks are no longer needed, so a handler can lend
 * pooled buffers. `headroom` (see REPLY_HEADROOM) says that many bytes right
 * before body[0] in its buffer are the handler's and free: the reply header
 * and the TCP record mark are written there, and the reply leaves as one
 * buffer instead of a vector. `file` (see ReplyFile) names bytes of the last
 * chunk that are still in a file.
 */
export type RpcResult =
  | { stat: 0; body: Uint8Array[]; onSent?: () => void; headroom?: number; file?: ReplyFile }
  | { stat: 1 | 3 | 4 | 5 }
  | { stat: 'auth'; why: number };

export type ProcedureHandler = (call: RpcCall) => RpcResult | Promise<RpcResult>;

/**
 * Told of each call of a program version where its reply is built (boot
 * monitoring): it costs a call two function calls, not a promise of its own
 * as a wrapper around an asynchronous handler would.
 */
export interface RpcCallWatcher {
  /** Before the handler runs (`call.args` is valid only now); what it returns is handed to `done`. */
  start(call: RpcCall): unknown;
  /** The handler's result, or undefined when it threw (answered SYSTEM_ERR). */
  done(call: RpcCall, result: RpcResult | undefined, started: unknown): void;
}

interface Version {
  readonly procs: Record<number, ProcedureHandler>;
  readonly watcher: RpcCallWatcher | undefined;
}

/**
 * Bytes at the end of a reply's last chunk that are still in a file: `into` (a view of the last chunk's
 * memory, ending where the chunk ends) is their place, and they are `into.length` bytes of the open
 * descriptor `fd` from `position`, which the page cache holds. A TCP connection whose ReplySender sends files
 * hands them to the socket straight from the page cache; every other way out reads them into `into` first
 * (fillReply). A reply with a file leaves (or is read in) in the turn it was made: `fd` need only stay open
 * until the handler's caller yields.
 */
export interface ReplyFile {
  fd: number;
  position: number;
  into: Buffer;
}

/** A reply ready to be framed and sent; `headroom` free bytes precede chunks[0] in its buffer (room for the record mark). */
export interface RpcReplyOut {
  chunks: Uint8Array[];
  onSent?: () => void;
  headroom?: number;
  file?: ReplyFile;
}

/** Bytes of the accepted-SUCCESS reply header (xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier, SUCCESS). */
const SUCCESS_HEADER = 24;
/** Headroom a handler leaves in front of its body for the whole reply to go out as one buffer: header and TCP record mark. */
export const REPLY_HEADROOM = SUCCESS_HEADER + 4;

/** What to do with one received record. */
export type CallDecision =
  | { kind: 'drop'; reason: string }
  | { kind: 'reply'; reply: RpcReplyOut }
  | {
      kind: 'call';
      xid: number;
      prog: number;
      vers: number;
      proc: number;
      cred: Credential;
      argsOffset: number;
      handler: ProcedureHandler;
      watcher: RpcCallWatcher | undefined;
    };

/** An error as one log line: its message and where it was thrown. */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const frame = e.stack?.split('\n').find((l) => l.trimStart().startsWith('at '));
  return frame ? `${e.message} (${frame.trim()})` : e.message;
}

/** AUTH_ERROR status for a credential flavor this server does not implement (the README's "What the server answers by itself": as the Linux kernel's RPC server does). */
export const UNSUPPORTED_FLAVOR_AUTH_STAT = AuthStat.AUTH_BADCRED;

function acceptedReply(xid: number, accepted: AcceptedReply): RpcReplyOut {
  return {
    chunks: [encodeRpcMessage({ type: MsgType.REPLY, xid, replyStat: 0, verf: AUTH_NONE_AUTH, accepted })],
  };
}

function deniedReply(xid: number, rejected: RejectedReply): RpcReplyOut {
  return { chunks: [encodeRpcMessage({ type: MsgType.REPLY, xid, replyStat: 1, rejected })] };
}

/** xid | REPLY | MSG_ACCEPTED | verf AUTH_NONE, empty | SUCCESS: the header of every successful reply. */
function successHeader(xid: number, h: Buffer = Buffer.allocUnsafe(SUCCESS_HEADER)): Buffer {
  h.writeUInt32BE(xid, 0);
  h.writeUInt32BE(MsgType.REPLY, 4);
  h.fill(0, 8, SUCCESS_HEADER);
  return h;
}

/** The SUCCESS reply: its header written into the body's headroom when there is room, else a vector [header, ...body]. */
function successReply(xid: number, res: Extract<RpcResult, { stat: 0 }>): RpcReplyOut {
  const first = res.body[0];
  const room = res.headroom ?? 0;
  if (first && room >= SUCCESS_HEADER && first.byteOffset >= room) {
    const whole = Buffer.from(first.buffer, first.byteOffset - SUCCESS_HEADER, SUCCESS_HEADER + first.length);
    successHeader(xid, whole.subarray(0, SUCCESS_HEADER));
    const chunks = res.body.length === 1 ? [whole] : [whole, ...res.body.slice(1)];
    return { chunks, onSent: res.onSent, headroom: room - SUCCESS_HEADER, file: res.file };
  }
  return { chunks: [successHeader(xid), ...res.body], onSent: res.onSent, file: res.file };
}

/**
 * The program table and the RFC 5531 dispatch rules: which faults the
 * server answers itself and how, and how a handler's outcome becomes a reply.
 * No sockets here: the server adapter feeds it records.
 */
export class RpcDispatcher {
  private readonly programs = new Map<number, Map<number, Version>>();

  constructor(private readonly log: (key: string, line: string) => void) {}

  register(prog: number, vers: number, procs: Record<number, ProcedureHandler>, watcher?: RpcCallWatcher): void {
    let versions = this.programs.get(prog);
    if (!versions) this.programs.set(prog, (versions = new Map()));
    versions.set(vers, { procs: { ...procs }, watcher });
  }

  unregister(prog: number, vers?: number): void {
    if (vers === undefined) {
      this.programs.delete(prog);
      return;
    }
    const versions = this.programs.get(prog);
    versions?.delete(vers);
    if (versions?.size === 0) this.programs.delete(prog);
  }

  /** Decodes a record's call header and decides what to do with it. */
  decide(record: Buffer, from: string): CallDecision {
    if (record.length < 8) return { kind: 'drop', reason: `${record.length}-byte message from ${from} has no xid and type` };
    const xid = record.readUInt32BE(0);
    const type = record.readUInt32BE(4);
    if (type !== MsgType.CALL) return { kind: 'drop', reason: `message type ${type} (not a CALL) from ${from}, xid ${xid}` };
    const r = new XdrReader(record, 8);
    let prog: number, vers: number, proc: number;
    try {
      const rpcvers = r.u32('call.rpcvers');
      if (rpcvers !== RPC_VERSION) {
        return { kind: 'reply', reply: deniedReply(xid, { stat: RejectStat.RPC_MISMATCH, low: RPC_VERSION, high: RPC_VERSION }) };
      }
      prog = r.u32('call.prog');
      vers = r.u32('call.vers');
      proc = r.u32('call.proc');
    } catch (e) {
      return { kind: 'drop', reason: `truncated call header from ${from}, xid ${xid}: ${(e as Error).message}` };
    }
    let cred: Credential | null;
    try {
      cred = credentialFromOpaqueAuth(decodeOpaqueAuth(r, 'call.cred'));
    } catch (e) {
      this.log(`badcred ${from}`, `rpc: bad credential from ${from}, xid ${xid}: ${(e as Error).message}`);
      return { kind: 'reply', reply: deniedReply(xid, { stat: RejectStat.AUTH_ERROR, why: AuthStat.AUTH_BADCRED }) };
    }
    if (cred === null) {
      return { kind: 'reply', reply: deniedReply(xid, { stat: RejectStat.AUTH_ERROR, why: UNSUPPORTED_FLAVOR_AUTH_STAT }) };
    }
    try {
      decodeOpaqueAuth(r, 'call.verf');
    } catch {
      return { kind: 'reply', reply: deniedReply(xid, { stat: RejectStat.AUTH_ERROR, why: AuthStat.AUTH_BADVERF }) };
    }
    const versions = this.programs.get(prog);
    if (!versions) return { kind: 'reply', reply: acceptedReply(xid, { stat: AcceptStat.PROG_UNAVAIL }) };
    const version = versions.get(vers);
    if (!version) {
      let low = Infinity;
      let high = -Infinity;
      for (const v of versions.keys()) {
        low = Math.min(low, v);
        high = Math.max(high, v);
      }
      return { kind: 'reply', reply: acceptedReply(xid, { stat: AcceptStat.PROG_MISMATCH, low, high }) };
    }
    const handler = Object.hasOwn(version.procs, proc) ? version.procs[proc] : undefined;
    if (!handler) return { kind: 'reply', reply: acceptedReply(xid, { stat: AcceptStat.PROC_UNAVAIL }) };
    return { kind: 'call', xid, prog, vers, proc, cred, argsOffset: r.offset, handler, watcher: version.watcher };
  }

  /** Runs the handler of a decided call; the reply comes back synchronously when the handler is synchronous. */
  invoke(
    d: Extract<CallDecision, { kind: 'call' }>,
    record: Buffer,
    ctx: Pick<RpcCall, 'transport' | 'remote' | 'local'>,
    others?: number,
  ): RpcReplyOut | Promise<RpcReplyOut> {
    const call: RpcCall = {
      xid: d.xid,
      prog: d.prog,
      vers: d.vers,
      proc: d.proc,
      cred: d.cred,
      args: new XdrReader(record, d.argsOffset),
      transport: ctx.transport,
      remote: ctx.remote,
      local: ctx.local,
      others,
    };
    const w = d.watcher;
    const started = w?.start(call);
    let out: RpcResult | Promise<RpcResult>;
    try {
      out = d.handler(call);
    } catch (e) {
      w?.done(call, undefined, started);
      return this.failed(call, e);
    }
    if (typeof (out as Promise<RpcResult>).then === 'function') {
      return (out as Promise<RpcResult>).then(
        (res) => {
          w?.done(call, res, started);
          return this.resultReply(call, res);
        },
        (e: unknown) => {
          w?.done(call, undefined, started);
          return this.failed(call, e);
        },
      );
    }
    w?.done(call, out as RpcResult, started);
    return this.resultReply(call, out as RpcResult);
  }

  private resultReply(call: RpcCall, res: RpcResult): RpcReplyOut {
    switch (res?.stat) {
      case AcceptStat.SUCCESS:
        if (!Array.isArray(res.body) || !res.body.every((c) => c instanceof Uint8Array)) {
          return this.failed(call, new Error('handler returned a SUCCESS body that is not an array of Uint8Array'));
        }
        return successReply(call.xid, res);
      case AcceptStat.PROG_UNAVAIL:
      case AcceptStat.PROC_UNAVAIL:
      case AcceptStat.GARBAGE_ARGS:
      case AcceptStat.SYSTEM_ERR:
        return acceptedReply(call.xid, { stat: res.stat });
      case 'auth':
        return deniedReply(call.xid, { stat: RejectStat.AUTH_ERROR, why: res.why });
      default:
        return this.failed(call, new Error(`handler returned an invalid result ${JSON.stringify(res)}`));
    }
  }

  private failed(call: RpcCall, e: unknown): RpcReplyOut {
    const what = `prog ${call.prog} vers ${call.vers} proc ${call.proc} from ${call.remote.address}:${call.remote.port}`;
    if (e instanceof XdrError) {
      this.log(`garbage ${call.prog}/${call.vers}/${call.proc}`, `rpc: garbage arguments for ${what}: ${e.message}`);
      return acceptedReply(call.xid, { stat: AcceptStat.GARBAGE_ARGS });
    }
    this.log(
      `syserr ${call.prog}/${call.vers}/${call.proc}`,
      `rpc: handler for ${what} failed: ${describe(e)}`,
    );
    return acceptedReply(call.xid, { stat: AcceptStat.SYSTEM_ERR });
  }
}
