export * from './dhcp-wire-error.js';
export * from './ipv4.js';
export * from './option-value.js';
export * from './option-space.js';
export * from './message.js';
