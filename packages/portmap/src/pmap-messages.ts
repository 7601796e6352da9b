import { MAX_CALL_ARGS, MAX_LIST } from './constants.js';
import { XdrType, boundedOpaqueLength, linkedList } from './xdr-type.js';

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

export const mapping = new XdrType<Mapping>(
  'mapping',
  (r) => ({
    prog: r.u32('mapping.prog'),
    vers: r.u32('mapping.vers'),
    prot: r.u32('mapping.prot'),
    port: r.u32('mapping.port'),
  }),
  (w, m) => {
    w.u32(m.prog, 'mapping.prog').u32(m.vers, 'mapping.vers').u32(m.prot, 'mapping.prot').u32(m.port, 'mapping.port');
  },
  () => 16,
);

export const pmaplist = linkedList(mapping, MAX_LIST, 'pmaplist');

export const callArgs = new XdrType<CallArgs>(
  'call_args',
  (r) => ({
    prog: r.u32('call_args.prog'),
    vers: r.u32('call_args.vers'),
    proc: r.u32('call_args.proc'),
    args: r.opaque(MAX_CALL_ARGS, 'call_args.args'),
  }),
  (w, c) => {
    w.u32(c.prog, 'call_args.prog').u32(c.vers, 'call_args.vers').u32(c.proc, 'call_args.proc');
    w.opaque(c.args, MAX_CALL_ARGS, 'call_args.args');
  },
  (c) => 12 + boundedOpaqueLength(c.args.length, MAX_CALL_ARGS, 'call_args.args'),
);

export const callResult = new XdrType<CallResult>(
  'call_result',
  (r) => ({ port: r.u32('call_result.port'), res: r.opaque(MAX_CALL_ARGS, 'call_result.res') }),
  (w, c) => {
    w.u32(c.port, 'call_result.port').opaque(c.res, MAX_CALL_ARGS, 'call_result.res');
  },
  (c) => 4 + boundedOpaqueLength(c.res.length, MAX_CALL_ARGS, 'call_result.res'),
);

