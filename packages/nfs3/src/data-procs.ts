import { randomFillSync } from 'node:crypto';
import { wccAttr } from './attributes.js';
import { keptAfterWrite, may, owner } from './credentials.js';
import { statusOf } from './errno-status.js';
import { isDir, isFile } from './export-fs.js';
import { NfsStat, type NfsErrorStatus, StableHow } from './nfs3-constants.js';
import type { ArgsOf, ResOf } from './nfs3-procedures.js';
import type { Fattr } from './nfs3-types.js';
import type { Target } from './export-table.js';
import { type Call, attr, err, wcc } from './procedure-context.js';

// READ, WRITE, COMMIT.

/**
 * READ into a buffer the RPC adapter provides (`alloc(count)` gives the buffer and where the data goes in
 * it), so the reply leaves as one buffer; `done` bytes of it are read already (by readNow, into the buffer
 * `alloc` gives again), which resolved the target `known`.
 */
export async function read(
  a: ArgsOf<'READ'>,
  call: Call,
  alloc: (count: number) => { buf: Buffer; at: number },
  done = 0,
  known?: Target,
): Promise<ReadOut> {
  const t = known ?? (await call.target(a.file));
  const st = t.obj.attrs;
  const attributes = attr(t, st);
  if (isDir(st)) throw err(NfsStat.ISDIR, undefined, { attributes });
  if (!isFile(st)) throw err(NfsStat.INVAL, undefined, { attributes });
  if (!mayRead(t)) throw err(NfsStat.ACCES, undefined, { attributes });
  const count = Math.min(a.count, call.maxIo);
  const { buf, at } = alloc(count);
  const position = Number(a.offset) + done;
  const n = count === done || a.offset >= st.size ? done : done + (await t.fs.read(t.obj, buf, at + done, count - done, position));
  return { attributes, count: n, eof: a.offset + BigInt(n) >= st.size, buf };
}

export interface ReadOut {
  attributes: Fattr;
  count: number;
  eof: boolean;
  buf: Buffer;
}

/**
 * READ of a target resolved at once (ExportTable.targetNow), answered without waiting when the backend
 * can (readNow: the file open, the data cached): no promise between the call and its reply. Otherwise
 * the bytes read into `alloc`'s buffer so far (read() goes on from there), or undefined for anything
 * else, errors included (read() answers).
 */
export function readNow(
  a: ArgsOf<'READ'>,
  t: Target,
  maxIo: number,
  alloc: (count: number) => { buf: Buffer; at: number },
  alone = false,
): ReadOut | number | undefined {
  const st = t.obj.attrs;
  if (!t.fs.readNow || !isFile(st) || !mayRead(t)) return undefined;
  const count = Math.min(a.count, maxIo);
  const { buf, at } = alloc(count);
  const n = count === 0 || a.offset >= st.size ? 0 : t.fs.readNow(t.obj, buf, at, count, Number(a.offset), alone);
  // Short at the end of the file as the server last saw it: that is the whole answer.
  if (n === count || (n >= 0 && a.offset + BigInt(n) >= st.size)) return { attributes: attr(t, st), count: n, eof: a.offset + BigInt(n) >= st.size, buf };
  return Math.max(n, 0);
}

/**
 * READ of a target resolved at once whose data can leave straight from the page cache (ExportFs.fileNow):
 * its result and the descriptor the data is sent from, or undefined when the data must be copied (readNow,
 * read()). Only a range the file holds whole, `min` bytes or more, a multiple of 4 (no XDR padding after
 * the file's bytes); eof as the server last saw the file.
 */
export function readFileNow(a: ArgsOf<'READ'>, t: Target, maxIo: number, min: number): (Omit<ReadOut, 'buf'> & { fd: number }) | undefined {
  const st = t.obj.attrs;
  if (!t.fs.fileNow || !isFile(st) || !mayRead(t)) return undefined;
  const count = Math.min(a.count, maxIo);
  if (count < min || count % 4 !== 0 || a.offset + BigInt(count) > st.size) return undefined;
  const fd = t.fs.fileNow(t.obj, Number(a.offset), count);
  return fd === undefined ? undefined : { attributes: attr(t, st), count, eof: a.offset + BigInt(count) >= st.size, fd };
}

/** As nfsd: the owner may read regardless of the mode, and execute permission allows reading (to run it). */
function mayRead(t: Target): boolean {
  const st = t.obj.attrs;
  const o = owner(st);
  return may.read(t.caller, o) || may.exec(t.caller, o) || BigInt(t.caller.uid) === st.uid;
}

/**
 * WRITE of a target resolved at once (ExportTable.targetNow), answered without waiting when the backend
 * can (writeNow): an UNSTABLE write (or any to an async export) of a file open for writing, no setuid or
 * setgid bit to clear, no promise between the call and its reply. Undefined for anything else, refusals
 * included (write() answers); throws what the write met (answered by writeFailed, never written again).
 */
export function writeNow(a: ArgsOf<'WRITE'>, t: Target, writeVerifier: Buffer): ResOf<'WRITE'> | undefined {
  const st = t.obj.attrs;
  if (!t.fs.writeNow || !t.opts.rw || !isFile(st) || (!may.write(t.caller, owner(st)) && BigInt(t.caller.uid) !== st.uid)) return undefined;
  if (!(t.opts.sync === false || a.stable === StableHow.UNSTABLE)) return undefined;
  const count = Math.min(a.count, a.data.length);
  if (a.offset + BigInt(count) > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  if (count > 0 && keptAfterWrite(t.caller, st) !== undefined) return undefined;
  const after = t.fs.writeNow(t.obj, a.data.subarray(0, count), Number(a.offset));
  if (!after) return undefined;
  return { status: 0, wcc: { before: wccAttr(st), after: attr(t, after) }, count, committed: a.stable, verf: writeVerifier };
}

/** The failure writeNow threw, as write() answers one (the verifier changed as write() changes it). */
export async function writeFailed(t: Target, e: unknown, writeVerifier: Buffer): Promise<never> {
  throw err(storageFailed(e, writeVerifier), String(e), { wcc: await wcc(t) });
}

/**
 * The status of a WRITE or COMMIT that failed in the file system, after a new write verifier when the failure
 * is the storage's (an I/O error, no space or quota, a file system gone read-only): a failed writeback may
 * have dropped the data of UNSTABLE writes answered earlier, so every client's next COMMIT must find the
 * verifier changed and send those writes again, as after a restart (knfsd resets its verifier so). Changed
 * in place: the Buffer is the one every reply of this server, on every thread, carries.
 */
function storageFailed(e: unknown, writeVerifier: Buffer): NfsErrorStatus {
  const status = statusOf(e);
  if (status === NfsStat.IO || status === NfsStat.NOSPC || status === NfsStat.DQUOT || status === NfsStat.ROFS) randomFillSync(writeVerifier);
  return status;
}

export async function write(a: ArgsOf<'WRITE'>, call: Call): Promise<ResOf<'WRITE'>> {
  const t = await call.target(a.file);
  const st = t.obj.attrs;
  const fail = { wcc: { before: wccAttr(st), after: attr(t, st) } };
  if (!t.opts.rw) throw err(NfsStat.ROFS, undefined, fail);
  if (isDir(st)) throw err(NfsStat.ISDIR, undefined, fail);
  if (!isFile(st)) throw err(NfsStat.INVAL, undefined, fail);
  if (!may.write(t.caller, owner(st)) && BigInt(t.caller.uid) !== st.uid) throw err(NfsStat.ACCES, undefined, fail);
  const count = Math.min(a.count, a.data.length);
  if (a.offset + BigInt(count) > BigInt(Number.MAX_SAFE_INTEGER)) throw err(NfsStat.FBIG, undefined, fail);
  // An async export replies before the data is on disk, as exports(5) describes; sync honours `stable`.
  const stable = t.opts.sync === false || a.stable === StableHow.UNSTABLE ? 'unstable' : a.stable === StableHow.FILE_SYNC ? 'file' : 'data';
  try {
    // Before the data goes in, as the kernel clears them (the server writes as root, which would keep them).
    const kept = count > 0 ? keptAfterWrite(t.caller, st) : undefined;
    if (kept !== undefined) await t.fs.setattr(t.obj, { mode: kept });
    const after = await t.fs.write(t.obj, a.data.subarray(0, count), Number(a.offset), stable);
    return { status: 0, wcc: { before: wccAttr(st), after: attr(t, after) }, count, committed: a.stable, verf: call.writeVerifier };
  } catch (e) {
    throw err(storageFailed(e, call.writeVerifier), String(e), { wcc: await wcc(t) });
  }
}

export async function commit(a: ArgsOf<'COMMIT'>, call: Call): Promise<ResOf<'COMMIT'>> {
  const t = await call.target(a.file);
  const st = t.obj.attrs;
  const w = { before: wccAttr(st), after: attr(t, st) };
  if (isDir(st)) throw err(NfsStat.ISDIR, undefined, { wcc: w });
  if (!isFile(st)) throw err(NfsStat.INVAL, undefined, { wcc: w });
  try {
    await t.fs.commit(t.obj);
  } catch (e) {
    throw err(storageFailed(e, call.writeVerifier), String(e), { wcc: await wcc(t) });
  }
  return { status: 0, wcc: w, verf: call.writeVerifier };
}
