import { decodeOpaqueAuth, encodeOpaqueAuth, opaqueAuthEncodingLength, type OpaqueAuth } from './opaque-auth.js';
import { AcceptStat, MsgType, RejectStat, ReplyStat } from './rpc-constants.js';
import { XdrError } from './xdr-error.js';
import { XdrReader } from './xdr-reader.js';
import { XdrWriter } from './xdr-writer.js';

/*
 * The RPC message header (RFC 5531 section 9). Procedure arguments and
 * results are not part of it: they follow the header and travel as separate
 * chunks, so a reply can be written as [header, results...] without copying.
 *
 *   CALL:  xid | 0 | rpcvers | prog | vers | proc | cred | verf | args...
 *   REPLY: xid | 1 | 0 (MSG_ACCEPTED) | verf | accept_stat [| low high] | results...
 *          xid | 1 | 1 (MSG_DENIED)   | 0 (RPC_MISMATCH) | low | high
 *          xid | 1 | 1 (MSG_DENIED)   | 1 (AUTH_ERROR)   | auth_stat
 */

export interface RpcCallMessage {
  type: 0;
  xid: number;
  rpcvers: number;
  prog: number;
  vers: number;
  proc: number;
  cred: OpaqueAuth;
  verf: OpaqueAuth;
}

/** accepted_reply's reply_data, by accept_stat. */
export type AcceptedReply =
  | { stat: 0 } // SUCCESS: results follow the header
  | { stat: 2; low: number; high: number } // PROG_MISMATCH
  | { stat: 1 | 3 | 4 | 5 }; // PROG_UNAVAIL, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR

/** rejected_reply, by reject_stat. */
export type RejectedReply =
  | { stat: 0; low: number; high: number } // RPC_MISMATCH
  | { stat: 1; why: number }; // AUTH_ERROR with its auth_stat

export type RpcReplyMessage =
  | { type: 1; xid: number; replyStat: 0; verf: OpaqueAuth; accepted: AcceptedReply }
  | { type: 1; xid: number; replyStat: 1; rejected: RejectedReply };

export type RpcMessage = RpcCallMessage | RpcReplyMessage;

/** A decoded header and where the body (arguments or SUCCESS results) starts. */
export interface DecodedRpcMessage {
  msg: RpcMessage;
  bodyOffset: number;
}

const MSG_TYPES: ReadonlySet<number> = new Set(Object.values(MsgType));
const REPLY_STATS: ReadonlySet<number> = new Set(Object.values(ReplyStat));
const ACCEPT_STATS: ReadonlySet<number> = new Set(Object.values(AcceptStat));
const REJECT_STATS: ReadonlySet<number> = new Set(Object.values(RejectStat));

/** Decodes the header of an RPC message in buf[offset, end). */
export function decodeRpcMessage(buf: Buffer, offset = 0, end = buf.length): DecodedRpcMessage {
  const r = new XdrReader(buf, offset, end);
  const xid = r.u32('xid');
  const type = r.enumOf<0 | 1>(MSG_TYPES, 'msg_type');
  let msg: RpcMessage;
  if (type === MsgType.CALL) {
    const rpcvers = r.u32('call.rpcvers');
    const prog = r.u32('call.prog');
    const vers = r.u32('call.vers');
    const proc = r.u32('call.proc');
    const cred = decodeOpaqueAuth(r, 'call.cred');
    const verf = decodeOpaqueAuth(r, 'call.verf');
    msg = { type, xid, rpcvers, prog, vers, proc, cred, verf };
  } else if (r.enumOf<0 | 1>(REPLY_STATS, 'reply.stat') === ReplyStat.MSG_ACCEPTED) {
    const verf = decodeOpaqueAuth(r, 'reply.verf');
    const stat = r.enumOf<AcceptedReply['stat']>(ACCEPT_STATS, 'reply.accept_stat');
    const accepted: AcceptedReply =
      stat === AcceptStat.PROG_MISMATCH
        ? { stat, low: r.u32('reply.mismatch_info.low'), high: r.u32('reply.mismatch_info.high') }
        : ({ stat } as AcceptedReply);
    msg = { type, xid, replyStat: 0, verf, accepted };
  } else {
    const stat = r.enumOf<0 | 1>(REJECT_STATS, 'reply.reject_stat');
    const rejected: RejectedReply =
      stat === RejectStat.RPC_MISMATCH
        ? { stat, low: r.u32('reply.mismatch_info.low'), high: r.u32('reply.mismatch_info.high') }
        : { stat, why: r.u32('reply.auth_stat') };
    msg = { type, xid, replyStat: 1, rejected };
  }
  return { msg, bodyOffset: r.offset };
}

/** Bytes the header of `msg` takes on the wire (without arguments or results). */
export function rpcMessageEncodingLength(msg: RpcMessage): number {
  if (msg.type === MsgType.CALL) {
    return 24 + opaqueAuthEncodingLength(msg.cred) + opaqueAuthEncodingLength(msg.verf);
  }
  if (msg.replyStat === ReplyStat.MSG_ACCEPTED) {
    return 12 + opaqueAuthEncodingLength(msg.verf) + 4 + (msg.accepted.stat === AcceptStat.PROG_MISMATCH ? 8 : 0);
  }
  return 16 + (msg.rejected.stat === RejectStat.RPC_MISMATCH ? 8 : 4);
}

/** Encodes the header of `msg` into buf at offset; returns the bytes written. */
export function encodeRpcMessageInto(msg: RpcMessage, buf: Buffer, offset = 0): number {
  const w = new XdrWriter(buf, offset);
  w.u32(msg.xid, 'xid');
  w.u32(msg.type, 'msg_type');
  if (msg.type === MsgType.CALL) {
    w.u32(msg.rpcvers, 'call.rpcvers');
    w.u32(msg.prog, 'call.prog');
    w.u32(msg.vers, 'call.vers');
    w.u32(msg.proc, 'call.proc');
    encodeOpaqueAuth(msg.cred, w, 'call.cred');
    encodeOpaqueAuth(msg.verf, w, 'call.verf');
  } else if (msg.replyStat === ReplyStat.MSG_ACCEPTED) {
    w.u32(ReplyStat.MSG_ACCEPTED, 'reply.stat');
    encodeOpaqueAuth(msg.verf, w, 'reply.verf');
    const a = msg.accepted;
    if (!ACCEPT_STATS.has(a.stat)) throw new XdrError('UNREPRESENTABLE', 'reply.accept_stat', w.offset, `${a.stat} is not an accept_stat`);
    w.u32(a.stat, 'reply.accept_stat');
    if (a.stat === AcceptStat.PROG_MISMATCH) {
      w.u32(a.low, 'reply.mismatch_info.low');
      w.u32(a.high, 'reply.mismatch_info.high');
    }
  } else {
    w.u32(ReplyStat.MSG_DENIED, 'reply.stat');
    const j = msg.rejected;
    if (j.stat === RejectStat.RPC_MISMATCH) {
      w.u32(j.stat, 'reply.reject_stat');
      w.u32(j.low, 'reply.mismatch_info.low');
      w.u32(j.high, 'reply.mismatch_info.high');
    } else if (j.stat === RejectStat.AUTH_ERROR) {
      w.u32(j.stat, 'reply.reject_stat');
      w.u32(j.why, 'reply.auth_stat');
    } else {
      throw new XdrError('UNREPRESENTABLE', 'reply.reject_stat', w.offset, `${(j as { stat: number }).stat} is not a reject_stat`);
    }
  }
  return w.offset - offset;
}

/** Encodes the header into a new buffer of exactly its length. */
export function encodeRpcMessage(msg: RpcMessage): Buffer {
  const buf = Buffer.allocUnsafe(rpcMessageEncodingLength(msg));
  encodeRpcMessageInto(msg, buf, 0);
  return buf;
}
