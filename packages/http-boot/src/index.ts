export { HttpBootServer, type HttpBootServerOptions, type HttpExchange, type LogLevel } from './server.js';
export type { BodyMode } from './body.js';
export { parseRange, type RangeRequest } from './range.js';
export { requestedName, type RequestedName } from './request-path.js';
export { combinedLogLine, logTime, type AccessEntry } from './access-log.js';
export { decodeRequestHead, RequestHeadError, MAX_HEAD, MAX_REQUEST_LINE, type RequestHead } from './request-head.js';
