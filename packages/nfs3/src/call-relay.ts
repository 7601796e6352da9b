import { AUTH_NONE_CREDENTIAL, XdrReader, type RpcCall } from '@netboot/oncrpc-xdr';
import type { NfsCallObserver } from './call-observer.js';
import { NFS_PROGRAM, NFS_V3 } from './nfs3-constants.js';

/**
 * NFS calls served on a worker thread, carried to the observer on the main
 * thread (boot monitoring keeps one writer there): each call is packed into
 * a batch at once, and a batch leaves at the end of the worker's loop turn,
 * so a busy worker sends one message for many calls.
 *
 * A record: proc u32 | status i32 | ms f64 | remote port u16 | local port u16 |
 * family u8 | address length u8 | arguments length u16 | result length u16 |
 * address | arguments | result.
 */
const HEADER = 26;
/** Argument bytes carried: a handle (4 + 64) and a name (4 + 255), with room. */
const ARGS_MAX = 512;
/** Result bytes carried: a READLINK reply with attributes and a 1024-byte target (1120). */
const BODY_MAX = 1280;
/** Longest textual IPv6 address with a zone. */
const ADDRESS_MAX = 64;
const RECORD_MAX = HEADER + ADDRESS_MAX + ARGS_MAX + BODY_MAX;
/** A batch is sent early once it holds this much. */
const BATCH_BYTES = 64 * 1024;

/** Worker side: an observer that packs calls into batches for `send` (which transfers them). */
export class CallRecorder implements NfsCallObserver {
  private batch = Buffer.allocUnsafe(BATCH_BYTES + RECORD_MAX);
  private used = 0;
  private flushQueued = false;
  private readonly bytesOf: ReadonlySet<number> | undefined;

  constructor(
    /** Procedures whose argument and result bytes the main thread's observer reads (undefined: all). */
    bytesOf: readonly number[] | undefined,
    private readonly send: (batch: ArrayBuffer) => void,
  ) {
    this.bytesOf = bytesOf && new Set(bytesOf);
  }

  start(call: RpcCall): unknown {
    if (this.bytesOf && !this.bytesOf.has(call.proc)) return undefined;
    const { buf, offset, end } = call.args;
    // A copy: the record's buffer is reused once the reply is written.
    return Buffer.from(buf.subarray(offset, Math.min(end, offset + ARGS_MAX)));
  }

  done(call: RpcCall, status: number, body: Uint8Array | undefined, ms: number, started: unknown): void {
    if (this.used + RECORD_MAX > this.batch.length) this.flush();
    const b = this.batch;
    let at = this.used;
    const address = call.remote.address.length <= ADDRESS_MAX ? call.remote.address : '';
    const args = started as Buffer | undefined;
    const keep = body && (!this.bytesOf || this.bytesOf.has(call.proc)) ? body.subarray(0, BODY_MAX) : undefined;
    b.writeUInt32BE(call.proc >>> 0, at);
    b.writeInt32BE(status | 0, at + 4);
    b.writeDoubleBE(ms, at + 8);
    b.writeUInt16BE(call.remote.port & 0xffff, at + 16);
    b.writeUInt16BE(call.local.port & 0xffff, at + 18);
    b[at + 20] = call.remote.family === 'IPv6' ? 6 : 4;
    b[at + 21] = address.length;
    b.writeUInt16BE(args?.length ?? 0, at + 22);
    b.writeUInt16BE(keep?.length ?? 0, at + 24);
    at += HEADER;
    at += b.write(address, at, 'latin1');
    if (args) at += args.copy(b, at);
    if (keep) {
      b.set(keep, at);
      at += keep.length;
    }
    this.used = at;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what is packed (the buffer is transferred, so a new one takes its place). */
  flush(): void {
    this.flushQueued = false;
    if (this.used === 0) return;
    const out = this.batch.buffer.slice(this.batch.byteOffset, this.batch.byteOffset + this.used);
    this.used = 0;
    this.send(out);
  }
}

/**
 * Main side: hands each call of a batch to `observer` as if it had been
 * served here (`start` then `done`), with the arguments and result bytes the
 * worker carried. The batch comes from this process's own worker; a record
 * that does not fit what remains ends the batch, reported to `log`.
 */
export function replayCalls(batch: ArrayBuffer, observer: NfsCallObserver, log: (line: string) => void): void {
  const b = Buffer.from(batch);
  let at = 0;
  while (at < b.length) {
    if (at + HEADER > b.length) break;
    const addressLen = b[at + 21];
    const argsLen = b.readUInt16BE(at + 22);
    const bodyLen = b.readUInt16BE(at + 24);
    const end = at + HEADER + addressLen + argsLen + bodyLen;
    if (end > b.length) break;
    const addressAt = at + HEADER;
    const argsAt = addressAt + addressLen;
    const call: RpcCall = {
      xid: 0,
      prog: NFS_PROGRAM,
      vers: NFS_V3,
      proc: b.readUInt32BE(at),
      cred: AUTH_NONE_CREDENTIAL,
      args: new XdrReader(b, argsAt, argsAt + argsLen),
      transport: 'tcp',
      remote: { address: b.toString('latin1', addressAt, argsAt), port: b.readUInt16BE(at + 16), family: b[at + 20] === 6 ? 'IPv6' : 'IPv4' },
      local: { address: '', port: b.readUInt16BE(at + 18) },
    };
    const token = observer.start?.(call);
    const body = bodyLen > 0 ? b.subarray(argsAt + argsLen, end) : undefined;
    observer.done(call, b.readInt32BE(at + 4), body, b.readDoubleBE(at + 8), token);
    at = end;
  }
  if (at !== b.length) log(`nfs: a batch of observed calls from a worker ends in a partial record at byte ${at} of ${b.length}; the rest is dropped`);
}
