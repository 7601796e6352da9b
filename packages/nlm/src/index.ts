export * from './nlm-wire.js';
export * from './nsm-wire.js';
export { LockTable, TO_EOF, type Grant, type HeldLock, type LockOutcome, type LockOwner, type LockRequest, type LockTableOptions, type ShareOwner } from './lock-table.js';
export { NsmStore, type Monitor, type Peer } from './nsm-store.js';
export { LockService, type LockServiceOptions } from './lock-service.js';
export { startLockDaemon, type LockDaemon, type LockDaemonOptions } from './lock-daemon.js';
export { HostLocks, type OfdCalls, type OpenForLock } from './host-locks.js';
