export * from './migrations.js';
export * from './pg-lease-store.js';
