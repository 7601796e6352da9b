export { XdrError, type XdrErrorCode } from './xdr-error.js';
export { XdrReader, padding } from './xdr-reader.js';
export { XdrWriter, opaqueLength, stringLength } from './xdr-writer.js';
export {
  array,
  bool,
  decode,
  empty,
  encode,
  encodeInto,
  encodingLength,
  enumOf,
  fixed,
  fixedArray,
  i32,
  linkedList,
  opaque,
  optional,
  string,
  struct,
  u32,
  u64,
  union,
  xdrCodec,
  type Decoded,
  type StructCodec,
  type StructMembers,
  type XdrCodec,
} from './xdr-codec.js';
export {
  AcceptStat,
  AuthFlavor,
  AuthStat,
  AUTH_SYS_MAX_GIDS,
  AUTH_SYS_MAX_MACHINE_NAME,
  MAX_AUTH_BYTES,
  MsgType,
  RejectStat,
  ReplyStat,
  RPC_VERSION,
} from './rpc-constants.js';
export { AUTH_NONE_AUTH, decodeOpaqueAuth, encodeOpaqueAuth, opaqueAuthEncodingLength, type OpaqueAuth } from './opaque-auth.js';
export {
  AUTH_NONE_CREDENTIAL,
  authSysEncodingLength,
  credentialFromOpaqueAuth,
  credentialToOpaqueAuth,
  decodeAuthSys,
  encodeAuthSys,
  type AuthSysCredential,
  type Credential,
} from './credential.js';
export {
  decodeRpcMessage,
  encodeRpcMessage,
  encodeRpcMessageInto,
  rpcMessageEncodingLength,
  type AcceptedReply,
  type DecodedRpcMessage,
  type RejectedReply,
  type RpcCallMessage,
  type RpcMessage,
  type RpcReplyMessage,
} from './rpc-message.js';
export { frameRecord, recordMark, RecordDecoder } from './record-marking.js';
export { argsChecksum, drcKey, DuplicateRequestCache, type DrcDecision } from './duplicate-request-cache.js';
export { BufferPool } from './buffer-pool.js';
export {
  REPLY_HEADROOM,
  RpcDispatcher,
  UNSUPPORTED_FLAVOR_AUTH_STAT,
  type CallDecision,
  type ProcedureHandler,
  type RpcCall,
  type RpcCallWatcher,
  type RpcEndpoint,
  type ReplyFile,
  type RpcReplyOut,
  type RpcResult,
} from './rpc-dispatcher.js';
export { RpcServer, type ReplySender, type RpcListenOptions, type RpcRegisterOptions, type RpcServerOptions, type UdpHandoff } from './rpc-server.js';
export { RpcAcceptError, RpcConnectionError, RpcDeniedError, RpcTimeoutError } from './rpc-errors.js';
export { RpcClient, type RpcCallOptions, type RpcClientOptions } from './rpc-client.js';
export { XidAllocator } from './xid-allocator.js';
