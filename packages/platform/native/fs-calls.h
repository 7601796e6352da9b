#ifndef NETBOOT_FS_CALLS_H
#define NETBOOT_FS_CALLS_H
#include "napi-util.h"
#include <sys/types.h>

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
napi_value js_readdir(napi_env env, napi_callback_info info);
napi_value js_ftruncate(napi_env env, napi_callback_info info);
#endif
