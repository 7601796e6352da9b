import { linkedList, opaque, struct, u32 } from '@netboot/oncrpc-xdr';
import { MAX_CALL_ARGS, MAX_LIST } from './constants.js';

/**
 * Portmapper version 2 (RFC 1833 section 3):
 *
 *   struct mapping { unsigned prog; unsigned vers; unsigned prot; unsigned port; };
 *   struct *pmaplist { mapping map; pmaplist next; };
 *   struct call_args { unsigned prog; unsigned vers; unsigned proc; opaque args<>; };
 *   struct call_result { unsigned port; opaque res<>; };
 */
export interface Mapping {
  prog: number;
  vers: number;
  /** IPPROTO_TCP (6) or IPPROTO_UDP (17). */
  prot: number;
  port: number;
}

export interface CallArgs {
  prog: number;
  vers: number;
  proc: number;
  /** The encoded arguments of the remote procedure (a view when decoded). */
  args: Buffer;
}

export interface CallResult {
  port: number;
  res: Buffer;
}

export const mapping = struct<Mapping>('mapping', { prog: u32, vers: u32, prot: u32, port: u32 });

export const pmaplist = linkedList(mapping, MAX_LIST, 'pmaplist');

export const callArgs = struct<CallArgs>('call_args', { prog: u32, vers: u32, proc: u32, args: opaque(MAX_CALL_ARGS) });

export const callResult = struct<CallResult>('call_result', { port: u32, res: opaque(MAX_CALL_ARGS) });
