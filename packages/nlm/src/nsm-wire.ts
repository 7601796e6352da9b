import { empty, enumOf, fixed, i32, string, struct, type XdrCodec } from '@netboot/oncrpc-xdr';

/*
 * NSM, the status monitor (rpc.statd), program 100024 version 1 (X/Open
 * XNFS chapter 11, nfs-utils' sm_inter.x):
 *
 *   sm_name     { string mon_name<SM_MAXSTRLEN=1024> }                     SM_STAT
 *   my_id       { string my_name<SM_MAXSTRLEN>; int my_prog; int my_vers; int my_proc }   SM_UNMON_ALL
 *   mon_id      { string mon_name<SM_MAXSTRLEN>; my_id my_id }             SM_UNMON
 *   mon         { mon_id mon_id; opaque priv[16] }                         SM_MON
 *   stat_chge   { string mon_name<SM_MAXSTRLEN>; int state }               SM_NOTIFY
 *   sm_stat_res { res res_stat (stat_succ=0, stat_fail=1); int state }     result of SM_STAT, SM_MON
 *   sm_stat     { int state }                                              result of SM_UNMON, SM_UNMON_ALL
 *   status      { string mon_name<SM_MAXSTRLEN>; int state; opaque priv[16] }  the callback to my_prog/my_vers/my_proc
 *
 * The state number is odd while the host is up and grows by one at each
 * start and each crash.
 */

export const NSM_PROGRAM = 100024;
export const NSM_V1 = 1;

export const NsmProc = { NULL: 0, STAT: 1, MON: 2, UNMON: 3, UNMON_ALL: 4, SIMU_CRASH: 5, NOTIFY: 6 } as const;

export const NsmResult = { SUCC: 0, FAIL: 1 } as const;
export type NsmResult = (typeof NsmResult)[keyof typeof NsmResult];

export const SM_MAXSTRLEN = 1024;
export const SM_PRIV_SIZE = 16;

const monName = string(SM_MAXSTRLEN, 'mon_name');

export interface SmName {
  monName: string;
}

export const smName = struct<SmName>('sm_name', { monName: [monName, 'mon_name'] });

export interface MyId {
  myName: string;
  myProg: number;
  myVers: number;
  myProc: number;
}

export const myId = struct<MyId>('my_id', {
  myName: [string(SM_MAXSTRLEN), 'my_name'],
  myProg: [i32, 'my_prog'],
  myVers: [i32, 'my_vers'],
  myProc: [i32, 'my_proc'],
});

export interface MonId {
  monName: string;
  myId: MyId;
}

export const monId = struct<MonId>('mon_id', { monName: [monName, 'mon_name'], myId: [myId, 'my_id'] });

export interface Mon {
  monId: MonId;
  priv: Buffer;
}

export const mon = struct<Mon>('mon', { monId: [monId, 'mon_id'], priv: fixed(SM_PRIV_SIZE, 'priv') });

export interface StatChge {
  monName: string;
  state: number;
}

export const statChge = struct<StatChge>('stat_chge', { monName: [monName, 'mon_name'], state: i32 });

export interface SmStatRes {
  res: NsmResult;
  state: number;
}

export const smStatRes = struct<SmStatRes>('sm_stat_res', { res: [enumOf(Object.values(NsmResult), 'res'), 'res_stat'], state: i32 });

export interface SmStat {
  state: number;
}

export const smStat = struct<SmStat>('sm_stat', { state: i32 });

export interface SmStatus {
  monName: string;
  state: number;
  priv: Buffer;
}

export const smStatus = struct<SmStatus>('status', { monName: [monName, 'mon_name'], state: i32, priv: fixed(SM_PRIV_SIZE, 'priv') });

export const nsmProcedures = {
  NULL: { proc: NsmProc.NULL, args: empty, res: empty },
  STAT: { proc: NsmProc.STAT, args: smName, res: smStatRes },
  MON: { proc: NsmProc.MON, args: mon, res: smStatRes },
  UNMON: { proc: NsmProc.UNMON, args: monId, res: smStat },
  UNMON_ALL: { proc: NsmProc.UNMON_ALL, args: myId, res: smStat },
  SIMU_CRASH: { proc: NsmProc.SIMU_CRASH, args: empty, res: empty },
  NOTIFY: { proc: NsmProc.NOTIFY, args: statChge, res: empty },
} as const satisfies Record<keyof typeof NsmProc, { proc: number; args: XdrCodec<any>; res: XdrCodec<any> }>;
