export * from './nfs3-constants.js';
export {
  bool,
  decode,
  empty,
  encode,
  encodeInto,
  encodingLength,
  enumOf,
  fixed,
  opaque,
  optional,
  struct,
  u32,
  u64,
  type XdrCodec as Codec,
} from '@netboot/oncrpc-xdr';
export * from './nfs3-types.js';
export * from './nfs3-procedures.js';
export { HandleCodec, HANDLE_SIZE, type HandleId } from './file-handle.js';
export { loadHandleKey } from './handle-key.js';
export { NfsError, statusOf } from './errno-status.js';
export { squash, permitted, accessBits, type AccessOptions, type Caller } from './credentials.js';
export { fattr, devMajor, devMinor } from './attributes.js';
export { NfsServer, type NfsExport, type NfsServerOptions } from './nfs-server.js';
export { NfsClient } from './nfs-client.js';
export { createNfsService, exportId, MOUNTD_PORT, NFS_PORT, type NfsService, type NfsServiceOptions } from './nfs-service.js';
