export { printable, bytesText } from './printable.js';
export { RateLimitedLog, type RateLimitOptions } from './rate-limited-log.js';
