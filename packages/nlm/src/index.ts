export * from './nlm-wire.js';
export * from './nsm-wire.js';
