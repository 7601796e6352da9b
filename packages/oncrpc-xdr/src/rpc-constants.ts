/** msg_type (RFC 5531 section 9). */
export const MsgType = { CALL: 0, REPLY: 1 } as const;

/** reply_stat. */
export const ReplyStat = { MSG_ACCEPTED: 0, MSG_DENIED: 1 } as const;

/** accept_stat: how an accepted call went. */
export const AcceptStat = {
  SUCCESS: 0,
  PROG_UNAVAIL: 1,
  PROG_MISMATCH: 2,
  PROC_UNAVAIL: 3,
  GARBAGE_ARGS: 4,
  SYSTEM_ERR: 5,
} as const;

/** reject_stat: why a call was denied. */
export const RejectStat = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const;

/** auth_stat: the reason carried by an AUTH_ERROR rejection. */
export const AuthStat = {
  AUTH_OK: 0,
  AUTH_BADCRED: 1,
  AUTH_REJECTEDCRED: 2,
  AUTH_BADVERF: 3,
  AUTH_REJECTEDVERF: 4,
  AUTH_TOOWEAK: 5,
  AUTH_INVALIDRESP: 6,
  AUTH_FAILED: 7,
  AUTH_KERB_GENERIC: 8,
  AUTH_TIMEEXPIRE: 9,
  AUTH_TKT_FILE: 10,
  AUTH_DECODE: 11,
  AUTH_NET_ADDR: 12,
  RPCSEC_GSS_CREDPROBLEM: 13,
  RPCSEC_GSS_CTXPROBLEM: 14,
} as const;

/** auth_flavor numbers assigned by IANA. */
export const AuthFlavor = { AUTH_NONE: 0, AUTH_SYS: 1, AUTH_SHORT: 2, AUTH_DH: 3, RPCSEC_GSS: 6 } as const;

/** The only RPC protocol version (rpcvers) there is. */
export const RPC_VERSION = 2;

/** Upper bound of an opaque_auth body (MAX_AUTH_BYTES). */
export const MAX_AUTH_BYTES = 400;

/** AUTH_SYS limits: machinename<255>, gids<16>. */
export const AUTH_SYS_MAX_MACHINE_NAME = 255;
export const AUTH_SYS_MAX_GIDS = 16;
