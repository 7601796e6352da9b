/* A read that never waits for the disk: preadv2 with RWF_NOWAIT reads what
 * the page cache holds and says EAGAIN instead of blocking for the rest. A
 * server can then read a cached block on its own thread and hand only the
 * misses to a thread pool. Thin wrapper: check, call, convert. */
#define _GNU_SOURCE
#include "pread-nowait.h"

#include <errno.h>
#include <sys/uio.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* The destination: a Buffer or Uint8Array, and a range [offset, offset + length) within it. */
static bool arg_range(call_ctx *ctx, uint8_t **start, int64_t *length) {
  napi_env env = ctx->env;
  napi_valuetype type;
  bool is_typed = false;
  if (ctx->argc > 1 && napi_typeof(env, ctx->argv[1], &type) == napi_ok && type == napi_object)
    napi_is_typedarray(env, ctx->argv[1], &is_typed);
  napi_typedarray_type ta_type = napi_int8_array;
  uint8_t *data = NULL;
  size_t size = 0;
  if (is_typed && napi_get_typedarray_info(env, ctx->argv[1], &ta_type, &size, (void **)&data, NULL, NULL) != napi_ok)
    return false;
  if (!is_typed || ta_type != napi_uint8_array) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "buffer", "an instance of Buffer or Uint8Array");
    return false;
  }
  int64_t offset;
  if (!arg_int64(ctx, 2, "offset", 0, (int64_t)size, &offset) ||
      !arg_int64(ctx, 3, "length", 0, (int64_t)size - offset, length))
    return false;
  if (*length > 0 && data == NULL) {
    throw_errno(env, EFAULT, ctx->syscall); /* detached */
    return false;
  }
  *start = data + offset;
  return true;
}

/* preadNowait(fd, buffer, offset, length, position): the bytes read (0 at end
 * of file, fewer than asked when only the first part is cached), or -1 when
 * the first byte is not in the page cache. -1 rather than an EAGAIN error: it
 * is the expected answer on a cold file, and an Error costs more than the read. */
napi_value js_pread_nowait(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  uint8_t *start;
  int64_t length, position;
  if (!ctx_init(&ctx, env, info, "preadv2", 5) || !arg_fd(&ctx, 0, "fd", false, &fd) || !arg_range(&ctx, &start, &length))
    return NULL;
  if (!arg_bigint64(&ctx, 4, "position", 0, INT64_MAX - length, &position)) return NULL;
  struct iovec iov = {.iov_base = start, .iov_len = (size_t)length};
  ssize_t n = preadv2(fd, &iov, 1, (off_t)position, RWF_NOWAIT);
  if (n < 0 && errno == EAGAIN) return make_int(env, -1);
  if (n < 0) return throw_errno(env, errno, "preadv2");
  return make_int(env, n);
}
