import type { RateLimitedLog } from '@netboot/log-text';
import type { ProcedureHandler, RpcCall, RpcResult, XdrCodec } from '@netboot/oncrpc-xdr';
import { BufferPool, REPLY_HEADROOM, XdrError } from '@netboot/oncrpc-xdr';
import { access, getattr, setattr } from './attribute-procs.js';
import { type ReadOut, commit, read, readFileNow, readNow, write, writeFailed, writeNow } from './data-procs.js';
import { NfsError, statusOf } from './errno-status.js';
import type { FsObject } from './export-fs.js';
import type { ExportTable, Refuse, Target } from './export-table.js';
import { fsinfo, fsstat, pathconf } from './fsinfo-procs.js';
import { lookup, lookupNow, readdir, readdirplus, readlink } from './lookup-procs.js';
import { create, link, mkdir, mknod, remove, rename, symlink } from './namespace-procs.js';
import { NfsStat, Proc, type ProcName, nfsStatusName } from './nfs3-constants.js';
import { type ArgsOf, type ResOf, READ_HEAD_MAX, encodeReadRes, encodeReadResAround, procedures } from './nfs3-procedures.js';
import { type Call, EMPTY_WCC, err } from './procedure-context.js';

type Impl<P extends ProcName> = (args: ArgsOf<P>, call: Call) => Promise<ResOf<P>>;

const FAIL_BODY: Record<ProcName, object> = {
  NULL: {},
  GETATTR: {},
  SETATTR: { wcc: EMPTY_WCC },
  LOOKUP: { dirAttributes: undefined },
  ACCESS: { attributes: undefined },
  READLINK: { attributes: undefined },
  READ: { attributes: undefined },
  WRITE: { wcc: EMPTY_WCC },
  CREATE: { dirWcc: EMPTY_WCC },
  MKDIR: { dirWcc: EMPTY_WCC },
  SYMLINK: { dirWcc: EMPTY_WCC },
  MKNOD: { dirWcc: EMPTY_WCC },
  REMOVE: { dirWcc: EMPTY_WCC },
  RMDIR: { dirWcc: EMPTY_WCC },
  RENAME: { fromWcc: EMPTY_WCC, toWcc: EMPTY_WCC },
  LINK: { attributes: undefined, dirWcc: EMPTY_WCC },
  READDIR: { attributes: undefined },
  READDIRPLUS: { attributes: undefined },
  FSSTAT: { attributes: undefined },
  FSINFO: { attributes: undefined },
  PATHCONF: { attributes: undefined },
  COMMIT: { wcc: EMPTY_WCC },
};

/** Procedures a UDP retransmission may simply run again (nfsd's RC_NOCACHE): the duplicate request cache never copies their replies. */
export const IDEMPOTENT = [
  Proc.NULL,
  Proc.GETATTR,
  Proc.LOOKUP,
  Proc.ACCESS,
  Proc.READLINK,
  Proc.READ,
  Proc.READDIR,
  Proc.READDIRPLUS,
  Proc.FSSTAT,
  Proc.FSINFO,
  Proc.PATHCONF,
  Proc.COMMIT,
];

/** Room in front of READ data for the reply's headers: the TCP record mark, the RPC reply header, READ3resok's. */
export const READ_ROOM = REPLY_HEADROOM + READ_HEAD_MAX;

/**
 * READ replies up to this many data bytes (the rsize of kernel mounts below 1 MiB) come from a pool of
 * their own: a fresh buffer per call is an ArrayBuffer of its own outside Node's small-buffer slab, and
 * at thousands of calls a second their external memory drives the garbage collector.
 */
const MID_IO = 64 * 1024;
/** Below this the reply buffer comes from Node's slab (Buffer.allocUnsafe pools under 4 KiB). */
const SLAB_MAX = 4096;
/**
 * READs of this many bytes or more over TCP are sent from the page cache (ReplyFile: sendfile) instead
 * of being copied into the reply and then into the socket, up to the backend's limit (ExportFs.fileNow):
 * the serving thread's two copies of the data were most of such a call's cost, while the client copies it
 * out of its socket either way.
 */
const FILE_REPLY_MIN = 16 * 1024;

const PROC_NAMES = new Map<number, string>(Object.entries(Proc).map(([n, v]) => [v, n]));

export interface AdapterDeps {
  table: ExportTable;
  log: RateLimitedLog;
  maxIoTcp: number;
  maxIoUdp: number;
  /** Buffers for large READ replies (READ_ROOM + maxIoTcp + 3 bytes). */
  pool: BufferPool;
  writeVerifier: Buffer;
}

/**
 * The RPC side of the NFS program: decodes arguments, builds the `Call` a
 * procedure sees, turns thrown errors into each procedure's failure arm and
 * encodes the reply after room for its headers, so it leaves as one buffer.
 */
export function nfsHandlers(deps: AdapterDeps): Record<number, ProcedureHandler> {
  const midPool = new BufferPool(READ_ROOM + MID_IO + 3, 64);
  const handleOf = (t: Target, obj: FsObject) => deps.table.handleOf(t.exp.def.id, obj);
  const callOf = (rpc: RpcCall): Call => {
    const refused: Refuse = (status, detail, body) => {
      const proc = PROC_NAMES.get(rpc.proc) ?? `procedure ${rpc.proc}`;
      const name = `NFS3ERR_${nfsStatusName(status)}`;
      // A refusal an admin should see (a client beyond its rights, or probing), as opposed to ordinary errors
      // such as NOENT: logged, rate-limited per client and status so a flood of forged handles costs a few lines.
      deps.log.log(`nfs: refusals of ${rpc.remote.address} (${name})`, `nfs: ${proc} from ${rpc.remote.address}:${rpc.remote.port} refused (${name}): ${detail}`);
      return err(status, detail, body);
    };
    const maxIo = rpc.transport === 'tcp' ? deps.maxIoTcp : deps.maxIoUdp;
    return {
      rpc,
      refused,
      target: (fh) => deps.table.target(rpc, fh, refused),
      handleOf,
      handlesOf: (t, objs) => deps.table.handlesOf(t.exp.def.id, objs),
      maxIo,
      maxReply: rpc.transport === 'tcp' ? deps.maxIoTcp + 4096 : deps.maxIoUdp,
      writeVerifier: deps.writeVerifier,
    };
  };

  const failure = <P extends ProcName>(name: P, e: unknown): ResOf<P> => {
    const status = statusOf(e);
    // Outside LOOKUP (where a missing name is routine), NOENT means an object the cache vouched for was renamed
    // or removed beside the server: the next call looks again instead of waiting for the entries to expire.
    if (status === NfsStat.NOENT && name !== 'LOOKUP') deps.table.forgetCached();
    if (status === NfsStat.SERVERFAULT) deps.log.log(`nfs ${name}`, `nfs: ${name} failed (NFS3ERR_SERVERFAULT): ${String(e)}`);
    return { ...FAIL_BODY[name], ...(e instanceof NfsError ? e.body : {}), status } as ResOf<P>;
  };

  /** A procedure's result encoded after room for the reply's headers. */
  const reply = <P extends ProcName>(name: P, res: ResOf<P>): RpcResult => {
    const c = procedures[name].res as XdrCodec<ResOf<P>>;
    const length = c.encodingLength(res);
    const buf = Buffer.allocUnsafe(REPLY_HEADROOM + length);
    const n = c.encodeInto(res, buf, REPLY_HEADROOM);
    if (n !== length) throw new XdrError('UNREPRESENTABLE', c.name, n, `wrote ${n} bytes, expected ${length}`);
    return { stat: 0, body: [buf.subarray(REPLY_HEADROOM)], headroom: REPLY_HEADROOM };
  };

  const run = async <P extends ProcName>(name: P, impl: Impl<P>, args: ArgsOf<P>, rpc: RpcCall): Promise<RpcResult> =>
    reply(name, await impl(args, callOf(rpc)).catch((e: unknown) => failure(name, e)));

  const wrap = <P extends ProcName>(name: P, impl: Impl<P>): ProcedureHandler => {
    const codec = procedures[name];
    return (rpc) => run(name, impl, codec.args.read(rpc.args) as ArgsOf<P>, rpc);
  };

  /** A READ reply's buffer: pooled for most sizes (given back once the reply is sent). */
  const readBuffer = (count: number): { buf: Buffer; from: BufferPool | undefined } => {
    const size = READ_ROOM + count + 3;
    const from = size <= SLAB_MAX ? undefined : count <= MID_IO ? midPool : deps.pool;
    return { buf: from?.take(size) ?? Buffer.allocUnsafe(size), from };
  };

  const readReply = (r: ReadOut, from: BufferPool | undefined): RpcResult => {
    // The data was read after room for the whole reply's headers and is followed by room for its
    // padding, so the reply leaves as one buffer (see encodeReadResAround, REPLY_HEADROOM).
    const { body, headroom } = encodeReadResAround({ attributes: r.attributes, count: r.count, eof: r.eof }, r.buf, READ_ROOM, r.count);
    const buf = r.buf;
    return { stat: 0, body: [body], headroom, onSent: from && (() => from.give(buf)) };
  };

  /** `have`: the buffer readNow began, with `done` bytes read into it. */
  const readLater = async (a: ArgsOf<'READ'>, rpc: RpcCall, have?: { buf: Buffer; from: BufferPool | undefined }, done = 0, known?: Target): Promise<RpcResult> => {
    let taken = have;
    try {
      const r = await read(
        a,
        callOf(rpc),
        (count) => {
          taken ??= readBuffer(count);
          return { buf: taken.buf, at: READ_ROOM };
        },
        done,
        known,
      );
      return readReply(r, taken!.from);
    } catch (e) {
      if (taken) taken.from?.give(taken.buf);
      return { stat: 0, body: encodeReadRes(failure('READ', e) as never) };
    }
  };

  /** A READ reply whose data leaves from the page cache: its headers in a pooled buffer with room for the data, should it be read in. */
  const fileReply = (f: Omit<ReadOut, 'buf'> & { fd: number }, position: number): RpcResult => {
    const { buf, from } = readBuffer(f.count);
    const { body, headroom } = encodeReadResAround({ attributes: f.attributes, count: f.count, eof: f.eof }, buf, READ_ROOM, f.count);
    const file = { fd: f.fd, position, into: buf.subarray(READ_ROOM, READ_ROOM + f.count) };
    return { stat: 0, body: [body], headroom, onSent: from && (() => from.give(buf)), file };
  };

  // A READ whose handle, file and data are at hand is answered in the turn it arrived in, with no promise
  // (readNow, or readFileNow over TCP); anything else, errors included, goes the asynchronous way.
  const readHandler = (rpc: RpcCall): RpcResult | Promise<RpcResult> => {
    const a = procedures.READ.args.read(rpc.args);
    const t = deps.table.targetNow(rpc, a.file);
    if (t) {
      const f = rpc.transport === 'tcp' ? readFileNow(a, t, deps.maxIoTcp, FILE_REPLY_MIN) : undefined;
      if (f) return fileReply(f, Number(a.offset));
      let taken: { buf: Buffer; from: BufferPool | undefined } | undefined;
      const r = readNow(
        a,
        t,
        rpc.transport === 'tcp' ? deps.maxIoTcp : deps.maxIoUdp,
        (count) => {
          taken = readBuffer(count);
          return { buf: taken.buf, at: READ_ROOM };
        },
        rpc.others === 0,
      );
      if (typeof r === 'object') return readReply(r, taken!.from);
      if (r !== undefined) return readLater(a, rpc, taken, r, t);
      if (taken) taken.from?.give(taken.buf);
    }
    return readLater(a, rpc);
  };

  // A WRITE whose handle and open file are at hand and that makes nothing stable is answered in the turn it
  // arrived in, with no promise (writeNow); anything else goes the asynchronous way.
  const writeHandler = (rpc: RpcCall): RpcResult | Promise<RpcResult> => {
    const a = procedures.WRITE.args.read(rpc.args);
    const t = deps.table.targetNow(rpc, a.file);
    if (t) {
      let res: ResOf<'WRITE'> | undefined;
      try {
        res = writeNow(a, t, deps.writeVerifier);
      } catch (e) {
        return writeFailed(t, e, deps.writeVerifier).catch((f: unknown) => reply('WRITE', failure('WRITE', f)));
      }
      if (res) return reply('WRITE', res);
    }
    return run('WRITE', write, a, rpc);
  };

  // A LOOKUP whose directory handle and entry the caches vouch for (most of a walk's: names the READDIRPLUS
  // before them listed) is answered in the turn it arrived in, with no promise; anything else, refusals and
  // errors included, goes the asynchronous way.
  const lookupHandler = (rpc: RpcCall): RpcResult | Promise<RpcResult> => {
    const a = procedures.LOOKUP.args.read(rpc.args);
    const d = deps.table.targetNow(rpc, a.dir);
    const res = d && lookupNow(a, d, handleOf);
    return res ? reply('LOOKUP', res) : run('LOOKUP', lookup, a, rpc);
  };

  const impls: { [P in ProcName]?: Impl<P> } = {
    GETATTR: getattr,
    SETATTR: setattr,
    ACCESS: access,
    READLINK: readlink,
    CREATE: create,
    MKDIR: mkdir,
    SYMLINK: symlink,
    MKNOD: mknod,
    REMOVE: (a, c) => remove(a, c, false),
    RMDIR: (a, c) => remove(a, c, true),
    RENAME: rename,
    LINK: link,
    READDIR: readdir,
    READDIRPLUS: readdirplus,
    FSSTAT: fsstat,
    FSINFO: fsinfo,
    PATHCONF: pathconf,
    COMMIT: commit,
  };
  const h: Record<number, ProcedureHandler> = {
    [Proc.NULL]: () => ({ stat: 0, body: [] }),
    [Proc.READ]: readHandler,
    [Proc.WRITE]: writeHandler,
    [Proc.LOOKUP]: lookupHandler,
  };
  for (const [name, impl] of Object.entries(impls)) h[Proc[name as ProcName]] = wrap(name as ProcName, impl as Impl<ProcName>);
  return h;
}
