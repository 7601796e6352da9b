export * from './constants.js';
export { mapping, pmaplist, callArgs, callResult, type Mapping, type CallArgs, type CallResult } from './pmap-messages.js';
export {
  rpcb,
  rpcblist,
  rpcbEntry,
  rpcbEntryList,
  rmtCallRes,
  netbuf,
  rpcbStat,
  rpcbStatByVers,
  uaddrString,
  type Rpcb,
  type RpcbEntry,
  type RmtCallRes,
  type Netbuf,
  type AddrStat,
  type RmtCallStat,
  type RpcbStat,
  type RpcbStatByVers,
} from './rpcb-messages.js';
export { formatUaddr, parseUaddr, isLoopback, isWildcard, unmapIPv4, type TransportAddress } from './uaddr.js';
export { uaddrToTaddr, taddrToUaddr } from './taddr.js';
export { Registry, netidForProt, protForNetid, toMapping, type Registration } from './registry.js';
export { RpcbStats, type StatVersion } from './stats.js';
export { localAddressFor, mergeUaddr, type InterfaceAddress } from './local-address.js';
export { portmapProcedures, callNetid, type PortmapContext, type ProcedureTable } from './procedures.js';
export { PortmapServer, type PortmapServerOptions, type PortmapListenOptions } from './server.js';
export { PortmapClient, PortmapError, type PortmapClientOptions, type Protocol } from './client.js';
