export { XdrError, type XdrErrorCode } from './xdr-error.js';
export { XdrReader, padding } from './xdr-reader.js';
export { XdrWriter, opaqueLength, stringLength } from './xdr-writer.js';
