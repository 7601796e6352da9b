import type { FuzzTarget } from './engine.js';
export const rpcTargets: FuzzTarget[];
export const portmapTargets: FuzzTarget[];
export const mountTargets: FuzzTarget[];
export const nfsTargets: FuzzTarget[];
export const tftpTargets: FuzzTarget[];
export const dhcpTargets: FuzzTarget[];
export const exportsTargets: FuzzTarget[];
export const targets: FuzzTarget[];
