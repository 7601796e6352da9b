/* Argument readers and Node-style errors shared by every wrapper.
 * Each reader validates before anything reaches a syscall and, on failure,
 * leaves a pending JavaScript exception and returns false. */
#ifndef NETBOOT_NAPI_UTIL_H
#define NETBOOT_NAPI_UTIL_H

#include <node_api.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names live in a fixed buffer: the kernel refuses paths of PATH_MAX bytes or
 * more anyway (ENAMETOOLONG), so nothing longer needs room. */
typedef struct {
  char bytes[PATH_MAX];
  size_t length;
} name_arg;

#define MAX_ARGS 8

typedef struct {
  napi_env env;
  const char *syscall;
  size_t argc;
  napi_value argv[MAX_ARGS];
} call_ctx;

bool ctx_init(call_ctx *ctx, napi_env env, napi_callback_info info, const char *syscall, size_t expected);

/* Throws Error{code, errno: -err, syscall} with Node's fs message shape:
 * "ENOENT: no such file or directory, openat2". Returns NULL for the caller to return. */
napi_value throw_errno(napi_env env, int err, const char *syscall);
napi_value errno_error(napi_env env, int err, const char *syscall);
/* TypeError/RangeError with a Node `code` such as ERR_INVALID_ARG_TYPE. */
napi_value throw_arg_error(napi_env env, bool range, const char *code, const char *syscall, const char *arg, const char *what);

/* An fd argument: an integer 0..INT_MAX (and AT_FDCWD when at_fdcwd_ok).
 * A negative fd is EBADF, as the kernel would say, without calling it. */
bool arg_fd(call_ctx *ctx, size_t i, const char *name, bool at_fdcwd_ok, int *out);
/* An integer Number within [min, max]. */
bool arg_int64(call_ctx *ctx, size_t i, const char *name, int64_t min, int64_t max, int64_t *out);
/* A bigint or an integer Number within [min, max]. */
bool arg_bigint64(call_ctx *ctx, size_t i, const char *name, int64_t min, int64_t max, int64_t *out);
/* A name as a string (UTF-8) or a Buffer/Uint8Array (bytes as they are).
 * NUL bytes are refused; PATH_MAX bytes or more is ENAMETOOLONG. */
bool arg_name(call_ctx *ctx, size_t i, const char *name, name_arg *out);
bool arg_string(call_ctx *ctx, size_t i, const char *name, char *buf, size_t cap);

napi_value make_undefined(napi_env env);
napi_value make_bool(napi_env env, bool v);
napi_value make_int(napi_env env, int64_t v);
napi_value make_bigint_u(napi_env env, uint64_t v);
napi_value make_bigint_s(napi_env env, int64_t v);
bool set_named(napi_env env, napi_value obj, const char *key, napi_value v);

#endif
