export * from './nfs3-constants.js';
export * from './xdr-codec.js';
export * from './nfs3-types.js';
export * from './nfs3-procedures.js';
