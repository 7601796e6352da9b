export { TftpWireError, type TftpWireErrorCode } from './tftp-wire-error.js';
export * from './constants.js';
export {
  transferMode,
  type TransferMode,
  type TftpPacket,
  type TftpOption,
  type RequestPacket,
  type DataPacket,
  type AckPacket,
  type ErrorPacket,
  type OackPacket,
} from './packet.js';
export { decode } from './decode.js';
export { encode, encodeInto, encodingLength, encodeDataHeader } from './encode.js';
export {
  negotiateOptions,
  acceptOack,
  OackRefused,
  defaultSettings,
  type TransferSettings,
  type ServerLimits,
  type Negotiated,
} from './options.js';
export { netasciiLength, toNetascii, fromNetascii, NetasciiDecoder } from './netascii.js';
export {
  defaultRetry,
  type RetryPolicy,
  type TransferAction,
  type TransferMachine,
  type Outcome,
  type LogLevel,
} from './transfer.js';
export { TftpSender, type SenderConfig } from './sender.js';
export { TftpReceiver, type ReceiverConfig } from './receiver.js';
export { pxelinuxConfigNames, findPxelinuxConfig } from './pxelinux.js';
export { resolveUnderRoot, realRoot, nameUnderRoot, type Resolved, type NameUnderRoot } from './secure-path.js';
export { ServedRoot, type OpenedFile, type Upload, type Refusal } from './served-root.js';
export { parseRemap, Remap, RemapSyntaxError, type RemapRequest, type RemapResult } from './remap.js';
export { TftpServer, type TftpServerOptions, type TftpTransferEvent } from './server.js';
export { tftpGet, tftpPut, TftpClientError, type ClientOptions, type TransferResult } from './client.js';
export { type Logger } from './transfer.js';
export { TransferPacing, type PacingOptions, type Admission, type SlotLoad } from './transfer-pacing.js';
