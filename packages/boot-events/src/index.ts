export * from './boot-event.js';
export * from './node-state.js';
export * from './boot-model.js';
export * from './firmware.js';
export * from './boot-files.js';
export * from './diagnosis.js';
export * from './event-history.js';
