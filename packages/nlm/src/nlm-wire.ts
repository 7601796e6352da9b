import { bool, empty, enumOf, i32, opaque, string, struct, u64, union, type XdrCodec } from '@netboot/oncrpc-xdr';

/*
 * NLM version 4 (X/Open XNFS chapter 14, the version NFSv3 clients use),
 * program 100021:
 *
 *   netobj        = opaque<MAXNETOBJ_SZ=1024>
 *   nlm4_lock     { string caller_name<LM_MAXSTRLEN=1024>; netobj fh; netobj oh; int32 svid; uint64 l_offset; uint64 l_len }
 *   nlm4_holder   { bool exclusive; int32 svid; netobj oh; uint64 l_offset; uint64 l_len }
 *   nlm4_testargs { netobj cookie; bool exclusive; nlm4_lock alock }                    TEST, GRANTED, TEST_MSG, GRANTED_MSG
 *   nlm4_lockargs { netobj cookie; bool block; bool exclusive; nlm4_lock alock; bool reclaim; int32 state }   LOCK, LOCK_MSG, NM_LOCK
 *   nlm4_cancargs { netobj cookie; bool block; bool exclusive; nlm4_lock alock }         CANCEL, CANCEL_MSG
 *   nlm4_unlockargs { netobj cookie; nlm4_lock alock }                                    UNLOCK, UNLOCK_MSG
 *   nlm4_testres  { netobj cookie; union switch (nlm4_stats stat) { case DENIED: nlm4_holder holder; default: void } }
 *   nlm4_res      { netobj cookie; nlm4_stats stat }
 *   nlm4_share    { string caller_name<LM_MAXSTRLEN>; netobj fh; netobj oh; fsh4_mode mode; fsh4_access access }
 *   nlm4_shareargs { netobj cookie; nlm4_share share; bool reclaim }                     SHARE, UNSHARE
 *   nlm4_shareres { netobj cookie; nlm4_stats stat; int32 sequence }
 *   nlm4_notify   { string name<LM_MAXNAMELEN=1025>; int32 state }                        FREE_ALL
 *
 * A length of 0 means "to the end of the file, however far it grows".
 */

export const NLM_PROGRAM = 100021;
export const NLM_V4 = 4;

export const NlmProc = {
  NULL: 0,
  TEST: 1,
  LOCK: 2,
  CANCEL: 3,
  UNLOCK: 4,
  GRANTED: 5,
  TEST_MSG: 6,
  LOCK_MSG: 7,
  CANCEL_MSG: 8,
  UNLOCK_MSG: 9,
  GRANTED_MSG: 10,
  TEST_RES: 11,
  LOCK_RES: 12,
  CANCEL_RES: 13,
  UNLOCK_RES: 14,
  GRANTED_RES: 15,
  SHARE: 20,
  UNSHARE: 21,
  NM_LOCK: 22,
  FREE_ALL: 23,
} as const;

export const Nlm4Stat = {
  GRANTED: 0,
  DENIED: 1,
  DENIED_NOLOCKS: 2,
  BLOCKED: 3,
  DENIED_GRACE_PERIOD: 4,
  DEADLCK: 5,
  ROFS: 6,
  STALE_FH: 7,
  FBIG: 8,
  FAILED: 9,
} as const;
export type Nlm4Stat = (typeof Nlm4Stat)[keyof typeof Nlm4Stat];

/** fsh4_mode: what a SHARE reservation denies to others. */
export const ShareMode = { DN: 0, DR: 1, DW: 2, DRW: 3 } as const;
export type ShareMode = (typeof ShareMode)[keyof typeof ShareMode];
/** fsh4_access: what a SHARE reservation itself does. */
export const ShareAccess = { NONE: 0, R: 1, W: 2, RW: 3 } as const;
export type ShareAccess = (typeof ShareAccess)[keyof typeof ShareAccess];

export const MAXNETOBJ_SZ = 1024;
export const LM_MAXSTRLEN = 1024;
export const LM_MAXNAMELEN = LM_MAXSTRLEN + 1;

export const netobj = opaque(MAXNETOBJ_SZ, 'netobj');
const nlm4Stats = enumOf(Object.values(Nlm4Stat), 'nlm4_stats');

export interface Nlm4Lock {
  callerName: string;
  fh: Buffer;
  oh: Buffer;
  svid: number;
  offset: bigint;
  length: bigint;
}

export const nlm4Lock = struct<Nlm4Lock>('nlm4_lock', {
  callerName: [string(LM_MAXSTRLEN), 'caller_name'],
  fh: netobj,
  oh: netobj,
  svid: i32,
  offset: [u64, 'l_offset'],
  length: [u64, 'l_len'],
});

export interface Nlm4Holder {
  exclusive: boolean;
  svid: number;
  oh: Buffer;
  offset: bigint;
  length: bigint;
}

export const nlm4Holder = struct<Nlm4Holder>('nlm4_holder', {
  exclusive: bool,
  svid: i32,
  oh: netobj,
  offset: [u64, 'l_offset'],
  length: [u64, 'l_len'],
});

export interface Nlm4TestArgs {
  cookie: Buffer;
  exclusive: boolean;
  alock: Nlm4Lock;
}

export const nlm4TestArgs = struct<Nlm4TestArgs>('nlm4_testargs', { cookie: netobj, exclusive: bool, alock: nlm4Lock });

export interface Nlm4LockArgs {
  cookie: Buffer;
  block: boolean;
  exclusive: boolean;
  alock: Nlm4Lock;
  reclaim: boolean;
  state: number;
}

export const nlm4LockArgs = struct<Nlm4LockArgs>('nlm4_lockargs', {
  cookie: netobj,
  block: bool,
  exclusive: bool,
  alock: nlm4Lock,
  reclaim: bool,
  state: i32,
});

export interface Nlm4CancArgs {
  cookie: Buffer;
  block: boolean;
  exclusive: boolean;
  alock: Nlm4Lock;
}

export const nlm4CancArgs = struct<Nlm4CancArgs>('nlm4_cancargs', { cookie: netobj, block: bool, exclusive: bool, alock: nlm4Lock });

export interface Nlm4UnlockArgs {
  cookie: Buffer;
  alock: Nlm4Lock;
}

export const nlm4UnlockArgs = struct<Nlm4UnlockArgs>('nlm4_unlockargs', { cookie: netobj, alock: nlm4Lock });

/** nlm4_testrply flattened: `stat`, and the holder's members when it is DENIED. */
export type Nlm4TestReply = { stat: typeof Nlm4Stat.DENIED; holder: Nlm4Holder } | { stat: Exclude<Nlm4Stat, 1> };

const deniedArm = struct<{ holder: Nlm4Holder }>('nlm4_testrply', { holder: nlm4Holder });
export const nlm4TestReply = union<Nlm4TestReply>('nlm4_testrply', 'stat', nlm4Stats, (s) => (s === Nlm4Stat.DENIED ? deniedArm : empty));

export interface Nlm4TestRes {
  cookie: Buffer;
  stat: Nlm4TestReply;
}

export const nlm4TestRes = struct<Nlm4TestRes>('nlm4_testres', { cookie: netobj, stat: [nlm4TestReply, 'test_stat'] });

export interface Nlm4Res {
  cookie: Buffer;
  stat: Nlm4Stat;
}

export const nlm4Res = struct<Nlm4Res>('nlm4_res', { cookie: netobj, stat: nlm4Stats });

export interface Nlm4Share {
  callerName: string;
  fh: Buffer;
  oh: Buffer;
  mode: ShareMode;
  access: ShareAccess;
}

export const nlm4Share = struct<Nlm4Share>('nlm4_share', {
  callerName: [string(LM_MAXSTRLEN), 'caller_name'],
  fh: netobj,
  oh: netobj,
  mode: enumOf(Object.values(ShareMode), 'fsh4_mode'),
  access: enumOf(Object.values(ShareAccess), 'fsh4_access'),
});

export interface Nlm4ShareArgs {
  cookie: Buffer;
  share: Nlm4Share;
  reclaim: boolean;
}

export const nlm4ShareArgs = struct<Nlm4ShareArgs>('nlm4_shareargs', { cookie: netobj, share: nlm4Share, reclaim: bool });

export interface Nlm4ShareRes {
  cookie: Buffer;
  stat: Nlm4Stat;
  sequence: number;
}

export const nlm4ShareRes = struct<Nlm4ShareRes>('nlm4_shareres', { cookie: netobj, stat: nlm4Stats, sequence: i32 });

export interface Nlm4Notify {
  name: string;
  state: number;
}

export const nlm4Notify = struct<Nlm4Notify>('nlm4_notify', { name: string(LM_MAXNAMELEN), state: i32 });

/** Arguments and results of every procedure; `empty` is void. */
export const nlmProcedures = {
  NULL: { proc: NlmProc.NULL, args: empty, res: empty },
  TEST: { proc: NlmProc.TEST, args: nlm4TestArgs, res: nlm4TestRes },
  LOCK: { proc: NlmProc.LOCK, args: nlm4LockArgs, res: nlm4Res },
  CANCEL: { proc: NlmProc.CANCEL, args: nlm4CancArgs, res: nlm4Res },
  UNLOCK: { proc: NlmProc.UNLOCK, args: nlm4UnlockArgs, res: nlm4Res },
  GRANTED: { proc: NlmProc.GRANTED, args: nlm4TestArgs, res: nlm4Res },
  TEST_MSG: { proc: NlmProc.TEST_MSG, args: nlm4TestArgs, res: empty },
  LOCK_MSG: { proc: NlmProc.LOCK_MSG, args: nlm4LockArgs, res: empty },
  CANCEL_MSG: { proc: NlmProc.CANCEL_MSG, args: nlm4CancArgs, res: empty },
  UNLOCK_MSG: { proc: NlmProc.UNLOCK_MSG, args: nlm4UnlockArgs, res: empty },
  GRANTED_MSG: { proc: NlmProc.GRANTED_MSG, args: nlm4TestArgs, res: empty },
  TEST_RES: { proc: NlmProc.TEST_RES, args: nlm4TestRes, res: empty },
  LOCK_RES: { proc: NlmProc.LOCK_RES, args: nlm4Res, res: empty },
  CANCEL_RES: { proc: NlmProc.CANCEL_RES, args: nlm4Res, res: empty },
  UNLOCK_RES: { proc: NlmProc.UNLOCK_RES, args: nlm4Res, res: empty },
  GRANTED_RES: { proc: NlmProc.GRANTED_RES, args: nlm4Res, res: empty },
  SHARE: { proc: NlmProc.SHARE, args: nlm4ShareArgs, res: nlm4ShareRes },
  UNSHARE: { proc: NlmProc.UNSHARE, args: nlm4ShareArgs, res: nlm4ShareRes },
  NM_LOCK: { proc: NlmProc.NM_LOCK, args: nlm4LockArgs, res: nlm4Res },
  FREE_ALL: { proc: NlmProc.FREE_ALL, args: nlm4Notify, res: empty },
} as const satisfies Record<keyof typeof NlmProc, { proc: number; args: XdrCodec<any>; res: XdrCodec<any> }>;
