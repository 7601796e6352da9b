/* Extended attributes, for an image import that keeps them exactly and a
 * copy-up that carries them into a node's layer. The l* calls act on a name
 * without following a final symlink; the f* calls on an open fd. Lengths are
 * checked against the kernel's own limits before the call: a name of 1 to
 * XATTR_NAME_MAX bytes, a value of at most XATTR_SIZE_MAX bytes. Reads go
 * into a buffer of the largest size the kernel can return, so a value
 * growing between two calls can never be cut. */
#define _GNU_SOURCE
#include "xattrs.h"

#include <errno.h>
#include <linux/limits.h>
#include <string.h>
#include <sys/xattr.h>

/* XATTR_SIZE_MAX and XATTR_LIST_MAX are both 64 KiB. */
static _Thread_local char xattr_buffer[XATTR_SIZE_MAX > XATTR_LIST_MAX ? XATTR_SIZE_MAX : XATTR_LIST_MAX];

static bool arg_xattr_name(call_ctx *ctx, size_t i, name_arg *out) {
  if (!arg_name(ctx, i, "name", out)) return false;
  if (out->length == 0 || out->length > XATTR_NAME_MAX) {
    throw_errno(ctx->env, ERANGE, ctx->syscall);
    return false;
  }
  return true;
}

/* A value: a Buffer or Uint8Array of at most XATTR_SIZE_MAX bytes. */
static bool arg_value(call_ctx *ctx, size_t i, const void **data, size_t *length) {
  napi_env env = ctx->env;
  bool is_typed = false;
  napi_valuetype type;
  if (i >= ctx->argc || napi_typeof(env, ctx->argv[i], &type) != napi_ok) return false;
  if (type == napi_object) napi_is_typedarray(env, ctx->argv[i], &is_typed);
  napi_typedarray_type ta_type = napi_int8_array;
  void *bytes = NULL;
  size_t n = 0;
  if (is_typed && napi_get_typedarray_info(env, ctx->argv[i], &ta_type, &n, &bytes, NULL, NULL) != napi_ok) return false;
  if (!is_typed || ta_type != napi_uint8_array) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "value", "an instance of Buffer");
    return false;
  }
  if (n > XATTR_SIZE_MAX) {
    throw_errno(env, E2BIG, ctx->syscall);
    return false;
  }
  *data = n > 0 ? bytes : "";
  *length = n;
  return true;
}

static napi_value buffer_of(napi_env env, const char *bytes, size_t length) {
  napi_value buffer;
  if (napi_create_buffer_copy(env, length, bytes, NULL, &buffer) != napi_ok) return NULL;
  return buffer;
}

/* The NUL-separated names llistxattr/flistxattr wrote, as an array of Buffers. */
static napi_value name_list(napi_env env, size_t length) {
  napi_value result;
  if (napi_create_array(env, &result) != napi_ok) return NULL;
  uint32_t count = 0;
  for (size_t pos = 0; pos < length;) {
    const char *start = xattr_buffer + pos;
    size_t n = strnlen(start, length - pos);
    if (n > 0) {
      napi_value name = buffer_of(env, start, n);
      if (name == NULL || napi_set_element(env, result, count++, name) != napi_ok) return NULL;
    }
    pos += n + 1;
  }
  return result;
}

napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  name_arg path, name;
  const void *value;
  size_t length;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "lsetxattr", 4) || !arg_name(&ctx, 0, "path", &path) ||
      !arg_xattr_name(&ctx, 1, &name) || !arg_value(&ctx, 2, &value, &length) ||
      !arg_int64(&ctx, 3, "flags", 0, XATTR_CREATE | XATTR_REPLACE, &flags))
    return NULL;
  if (lsetxattr(path.bytes, name.bytes, value, length, (int)flags) < 0) return throw_errno(env, errno, "lsetxattr");
  return make_undefined(env);
}

napi_value js_fsetxattr(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  name_arg name;
  const void *value;
  size_t length;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "fsetxattr", 4) || !arg_fd(&ctx, 0, "fd", false, &fd) ||
      !arg_xattr_name(&ctx, 1, &name) || !arg_value(&ctx, 2, &value, &length) ||
      !arg_int64(&ctx, 3, "flags", 0, XATTR_CREATE | XATTR_REPLACE, &flags))
    return NULL;
  if (fsetxattr(fd, name.bytes, value, length, (int)flags) < 0) return throw_errno(env, errno, "fsetxattr");
  return make_undefined(env);
}

napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  name_arg path, name;
  if (!ctx_init(&ctx, env, info, "lgetxattr", 2) || !arg_name(&ctx, 0, "path", &path) || !arg_xattr_name(&ctx, 1, &name))
    return NULL;
  ssize_t n = lgetxattr(path.bytes, name.bytes, xattr_buffer, XATTR_SIZE_MAX);
  if (n < 0) return throw_errno(env, errno, "lgetxattr");
  return buffer_of(env, xattr_buffer, (size_t)n);
}

napi_value js_fgetxattr(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  name_arg name;
  if (!ctx_init(&ctx, env, info, "fgetxattr", 2) || !arg_fd(&ctx, 0, "fd", false, &fd) || !arg_xattr_name(&ctx, 1, &name))
    return NULL;
  ssize_t n = fgetxattr(fd, name.bytes, xattr_buffer, XATTR_SIZE_MAX);
  if (n < 0) return throw_errno(env, errno, "fgetxattr");
  return buffer_of(env, xattr_buffer, (size_t)n);
}

napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  name_arg path;
  if (!ctx_init(&ctx, env, info, "llistxattr", 1) || !arg_name(&ctx, 0, "path", &path)) return NULL;
  ssize_t n = llistxattr(path.bytes, xattr_buffer, XATTR_LIST_MAX);
  if (n < 0) return throw_errno(env, errno, "llistxattr");
  return name_list(env, (size_t)n);
}

napi_value js_flistxattr(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  if (!ctx_init(&ctx, env, info, "flistxattr", 1) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  ssize_t n = flistxattr(fd, xattr_buffer, XATTR_LIST_MAX);
  if (n < 0) return throw_errno(env, errno, "flistxattr");
  return name_list(env, (size_t)n);
}
