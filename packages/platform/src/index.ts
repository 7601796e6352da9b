export type { InterfaceAddress, LockHolder, Name, NativeCalls, PlatformConstants, SendfileTransfer, StatResult, UdpListener, UdpSocketHandle } from './native-calls.js';
export { native, platformStatus, platformSummary, type PlatformStatus } from './load.js';
export { STATX_SLOT, STATX_SLOTS } from './native-calls.js';
export { socketFd } from './socket-fd.js';
export { readInto } from './socket-read-into.js';
export { udpAddress, type UdpAddress } from './udp-address.js';
export { nameThread } from './thread-name.js';
