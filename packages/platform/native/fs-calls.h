#ifndef NETBOOT_FS_CALLS_H
#define NETBOOT_FS_CALLS_H
#include "napi-util.h"
#include <sys/types.h>

/* Slots statxInto fills, in this order (STATX_SLOTS 64-bit values). */
#define STATX_SLOTS 13
struct statx;
/* One statx result as STATX_SLOTS values: dev, ino, mode, nlink, uid, gid, rdev, size, blocks,
 * atime, mtime, ctime, birth time (ns; birth 0 where the file system keeps none). */
void statx_slots(const struct statx *stx, int64_t *out);
/* Argument i: a BigInt64Array or BigUint64Array of at least min_length elements (its data and length). */
bool arg_statx_out(call_ctx *ctx, size_t i, size_t min_length, int64_t **data, size_t *length);
int open_beneath_walk(int dirfd, const char *path, int flags, mode_t mode);
napi_value js_openat2(napi_env env, napi_callback_info info);
napi_value js_open_beneath_walk(napi_env env, napi_callback_info info);
napi_value js_fstatat(napi_env env, napi_callback_info info);
napi_value js_statx_into(napi_env env, napi_callback_info info);
napi_value js_fstat(napi_env env, napi_callback_info info);
napi_value js_fchownat(napi_env env, napi_callback_info info);
napi_value js_fchmod(napi_env env, napi_callback_info info);
napi_value js_fchmodat(napi_env env, napi_callback_info info);
napi_value js_utimensat(napi_env env, napi_callback_info info);
napi_value js_mkdirat(napi_env env, napi_callback_info info);
napi_value js_mknodat(napi_env env, napi_callback_info info);
napi_value js_mkfifoat(napi_env env, napi_callback_info info);
napi_value js_linkat(napi_env env, napi_callback_info info);
napi_value js_symlinkat(napi_env env, napi_callback_info info);
napi_value js_readlinkat(napi_env env, napi_callback_info info);
napi_value js_renameat2(napi_env env, napi_callback_info info);
napi_value js_unlinkat(napi_env env, napi_callback_info info);
napi_value js_ftruncate(napi_env env, napi_callback_info info);
#endif
