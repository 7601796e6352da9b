import { RpcClient, encode, type RpcClientOptions } from '@netboot/oncrpc-xdr';
import {
  dirpath,
  exportList,
  fhStatus,
  MOUNT_PROGRAM,
  MOUNT_V1,
  MOUNT_V3,
  MountProc,
  mountList,
  mountResult3,
  type ExportEntry,
  type FhStatus,
  type MountEntry,
  type MountResult3,
} from './mount-wire.js';

/** A typed MOUNT client (versions 1 and 3), for tests, benchmarks and the NFS client. */
export class MountClient {
  private constructor(
    readonly rpc: RpcClient,
    readonly version: typeof MOUNT_V1 | typeof MOUNT_V3,
  ) {}

  /** Connects to a mountd; `version` picks the protocol version of every call (default 3). */
  static async connect(opts: RpcClientOptions & { version?: 1 | 3 }): Promise<MountClient> {
    const { version = MOUNT_V3, ...rpc } = opts;
    return new MountClient(await RpcClient.connect(rpc), version);
  }

  close(): void {
    this.rpc.close();
  }

  async null(): Promise<void> {
    await this.rpc.call(MOUNT_PROGRAM, this.version, MountProc.NULL);
  }

  /** MNT with version 3: status, and the handle with auth flavors when granted. */
  async mnt(path: string): Promise<MountResult3> {
    if (this.version !== MOUNT_V3) throw new Error('mnt() is MOUNT version 3; use mnt1() on a version 1 client');
    const r = await this.rpc.call(MOUNT_PROGRAM, MOUNT_V3, MountProc.MNT, encode(dirpath, path));
    return mountResult3.read(r);
  }

  /** MNT with version 1: a 32-byte handle when granted. */
  async mnt1(path: string): Promise<FhStatus> {
    const r = await this.rpc.call(MOUNT_PROGRAM, MOUNT_V1, MountProc.MNT, encode(dirpath, path));
    return fhStatus.read(r);
  }

  async dump(): Promise<MountEntry[]> {
    return mountList.read(await this.rpc.call(MOUNT_PROGRAM, this.version, MountProc.DUMP));
  }

  async umnt(path: string): Promise<void> {
    await this.rpc.call(MOUNT_PROGRAM, this.version, MountProc.UMNT, encode(dirpath, path));
  }

  async umntall(): Promise<void> {
    await this.rpc.call(MOUNT_PROGRAM, this.version, MountProc.UMNTALL);
  }

  async exports(): Promise<ExportEntry[]> {
    return exportList.read(await this.rpc.call(MOUNT_PROGRAM, this.version, MountProc.EXPORT));
  }
}
