export { ExportsError, formatWarning, type ExportsWarning, type SourcePosition } from './exports-error.js';
export { DEFAULT_EXPORT_OPTIONS, applyOption, formatOptions, type ExportOptions, type OptionProblem } from './export-options.js';
export { parseClientIdentity, isIdentityProblem, type ClientSpec, type ClientIdentity, type IdentityProblem } from './client-spec.js';
export { parseExports, loadExports, type Export, type ParseExportsOptions } from './exports-parser.js';
export { formatExports, escapeExportPath } from './exports-format.js';
export { matchClient, matchClientSpec, needsHostnames } from './match-client.js';
export { parseIp, formatIp, type IpAddress } from './ip-address.js';
export {
  MOUNT_PROGRAM,
  MOUNT_V1,
  MOUNT_V3,
  MountProc,
  MountStat,
  MNTPATHLEN,
  MNTNAMLEN,
  FHSIZE,
  FHSIZE3,
  dirpath,
  dirpathBytes,
  mountResult3,
  fhStatus,
  mountList,
  exportList,
  type MountResult3,
  type FhStatus,
  type MountEntry,
  type ExportEntry,
} from './mount-wire.js';
export { MountTable } from './mount-table.js';
export { decideMount, normalizeMountPath, exportsContaining, subpathBytes, type MountDecision, type MountRequest } from './mount-policy.js';
export { resolveClientNames } from './client-names.js';
export { Mountd, type MountdEvent, type MountdOptions } from './mountd.js';
export { MountClient } from './mount-client.js';
