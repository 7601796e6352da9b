export { TarError, type TarErrorCode } from './tar-error.js';
export { TarParser, readTar, type TarEntry, type TarEvent, type EntryType, type TarParserOptions } from './tar-parser.js';
export { UnsafeEntryError } from './entry-path.js';
export { GenerationBuilder, type BuildStats } from './generation-builder.js';
export { walkDirectory } from './directory-source.js';
export { OverlayFs } from './overlay-fs.js';
export { NodeRoots, type NodeRecord, type LayerChange, type RebasePlan, type RebaseResolution, type NodeGeneration } from './node-roots.js';
export { NodeRootFs, type BootedRoot } from './node-root-fs.js';
export { ImageStore, type ImageInfo, type ImportSource, type ImageState, type StoreState } from './image-store.js';
