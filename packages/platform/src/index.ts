export type { InterfaceAddress, LockHolder, Name, NativeCalls, PlatformConstants, StatResult } from './native-calls.js';
export { native, platformStatus, platformSummary, type PlatformStatus } from './load.js';
export { socketFd } from './socket-fd.js';
