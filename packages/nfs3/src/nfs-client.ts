import { RpcClient, encode, type Credential, type RpcClientOptions } from '@netboot/oncrpc-xdr';
import { NFS_PROGRAM, NFS_V3, Proc, type ProcName, type Stable } from './nfs3-constants.js';
import { type ArgsOf, type ResOf, encodeWriteArgs, procedures } from './nfs3-procedures.js';
import { type CreateHow, type MknodData, type NfsTime, type Sattr, noSattr } from './nfs3-types.js';

/** A file name or symlink target: a string is sent as UTF-8, bytes as they are (names are any bytes but `/` and NUL). */
type Name = string | Uint8Array;
const bytes = (n: Name): Buffer => (typeof n === 'string' ? Buffer.from(n, 'utf8') : Buffer.from(n.buffer, n.byteOffset, n.byteLength));
const ZERO_VERF: Buffer = Buffer.alloc(8);

/**
 * A typed NFSv3 client: one method per procedure, results as the decoded
 * RFC 1813 unions (check `status` before reading the resok fields).
 */
export class NfsClient {
  constructor(
    readonly rpc: RpcClient,
    private readonly cred?: Credential,
  ) {}

  static async connect(opts: RpcClientOptions): Promise<NfsClient> {
    return new NfsClient(await RpcClient.connect(opts), opts.cred);
  }

  /** Calls any procedure with already-built arguments. */
  async call<P extends ProcName>(proc: P, args: ArgsOf<P>, opts: { cred?: Credential; timeoutMs?: number } = {}): Promise<ResOf<P>> {
    const c = procedures[proc];
    const body = proc === 'WRITE' ? encodeWriteArgs(args as ArgsOf<'WRITE'>) : [encode(c.args as never, args)];
    const r = await this.rpc.call(NFS_PROGRAM, NFS_V3, Proc[proc], body, { cred: opts.cred ?? this.cred, timeoutMs: opts.timeoutMs });
    return c.res.read(r) as ResOf<P>;
  }

  null() {
    return this.call('NULL', {});
  }
  getattr(object: Buffer) {
    return this.call('GETATTR', { object });
  }
  setattr(object: Buffer, attributes: Partial<Sattr>, guard?: NfsTime) {
    return this.call('SETATTR', { object, attributes: { ...noSattr(), ...attributes }, guard });
  }
  lookup(dir: Buffer, name: Name) {
    return this.call('LOOKUP', { dir, name: bytes(name) });
  }
  access(object: Buffer, access: number) {
    return this.call('ACCESS', { object, access });
  }
  readlink(object: Buffer) {
    return this.call('READLINK', { object });
  }
  read(file: Buffer, offset: bigint, count: number) {
    return this.call('READ', { file, offset, count });
  }
  write(file: Buffer, offset: bigint, data: Buffer, stable: Stable) {
    return this.call('WRITE', { file, offset, count: data.length, stable, data });
  }
  create(dir: Buffer, name: Name, how: CreateHow = { mode: 0, attributes: { ...noSattr(), mode: 0o644 } }) {
    return this.call('CREATE', { where: { dir, name: bytes(name) }, how });
  }
  mkdir(dir: Buffer, name: Name, attributes: Partial<Sattr> = { mode: 0o755 }) {
    return this.call('MKDIR', { where: { dir, name: bytes(name) }, attributes: { ...noSattr(), ...attributes } });
  }
  symlink(dir: Buffer, name: Name, target: Name, attributes: Partial<Sattr> = {}) {
    return this.call('SYMLINK', {
      where: { dir, name: bytes(name) },
      attributes: { ...noSattr(), ...attributes },
      data: bytes(target),
    });
  }
  mknod(dir: Buffer, name: Name, what: MknodData) {
    return this.call('MKNOD', { where: { dir, name: bytes(name) }, what });
  }
  remove(dir: Buffer, name: Name) {
    return this.call('REMOVE', { dir, name: bytes(name) });
  }
  rmdir(dir: Buffer, name: Name) {
    return this.call('RMDIR', { dir, name: bytes(name) });
  }
  rename(fromDir: Buffer, fromName: Name, toDir: Buffer, toName: Name) {
    return this.call('RENAME', { from: { dir: fromDir, name: bytes(fromName) }, to: { dir: toDir, name: bytes(toName) } });
  }
  link(file: Buffer, dir: Buffer, name: Name) {
    return this.call('LINK', { file, link: { dir, name: bytes(name) } });
  }
  readdir(dir: Buffer, cookie = 0n, cookieverf = ZERO_VERF, count = 8192) {
    return this.call('READDIR', { dir, cookie, cookieverf, count });
  }
  readdirplus(dir: Buffer, cookie = 0n, cookieverf = ZERO_VERF, dircount = 8192, maxcount = 32768) {
    return this.call('READDIRPLUS', { dir, cookie, cookieverf, dircount, maxcount });
  }
  fsstat(object: Buffer) {
    return this.call('FSSTAT', { object });
  }
  fsinfo(object: Buffer) {
    return this.call('FSINFO', { object });
  }
  pathconf(object: Buffer) {
    return this.call('PATHCONF', { object });
  }
  commit(file: Buffer, offset = 0n, count = 0) {
    return this.call('COMMIT', { file, offset, count });
  }

  close(): void {
    this.rpc.close();
  }
}
