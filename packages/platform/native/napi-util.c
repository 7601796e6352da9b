#include "napi-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

/* Node's own tables give the code ("ENOENT") and message ("no such file or
 * directory") so errors read exactly like node:fs errors. */
napi_value errno_error(napi_env env, int err, const char *syscall) {
  const char *code = uv_err_name(-err);
  const char *text = uv_strerror(-err);
  char message[256];
  snprintf(message, sizeof message, "%s: %s, %s", code, text, syscall);
  napi_value js_code, js_message, error, value;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message) != napi_ok) return NULL;
  if (napi_create_error(env, js_code, js_message, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, -err, &value) == napi_ok) napi_set_named_property(env, error, "errno", value);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  return error;
}

napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = errno_error(env, err, syscall);
  if (error != NULL) napi_throw(env, error);
  return NULL;
}

napi_value throw_arg_error(napi_env env, bool range, const char *code, const char *syscall, const char *arg,
                           const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: The \"%s\" argument must be %s", syscall, arg, what);
  if (range)
    napi_throw_range_error(env, code, message);
  else
    napi_throw_type_error(env, code, message);
  return NULL;
}

bool ctx_init(call_ctx *ctx, napi_env env, napi_callback_info info, const char *syscall, size_t expected) {
  ctx->env = env;
  ctx->syscall = syscall;
  ctx->argc = MAX_ARGS;
  for (size_t i = 0; i < MAX_ARGS; i++) ctx->argv[i] = NULL;
  if (napi_get_cb_info(env, info, &ctx->argc, ctx->argv, NULL, NULL) != napi_ok) return false;
  if (ctx->argc < expected) {
    char message[128];
    snprintf(message, sizeof message, "%s: expected %zu arguments, got %zu", syscall, expected, ctx->argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", message);
    return false;
  }
  return true;
}

static bool number_at(call_ctx *ctx, size_t i, const char *name, double *out) {
  napi_valuetype type;
  if (i >= ctx->argc || napi_typeof(ctx->env, ctx->argv[i], &type) != napi_ok || type != napi_number) {
    throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, name, "of type number");
    return false;
  }
  if (napi_get_value_double(ctx->env, ctx->argv[i], out) != napi_ok) return false;
  return true;
}

bool arg_int64(call_ctx *ctx, size_t i, const char *name, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (!number_at(ctx, i, name, &d)) return false;
  /* Compare as doubles first: a cast of NaN or of 1e300 to int64 is undefined. */
  if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
    char what[96];
    snprintf(what, sizeof what, "an integer >= %lld and <= %lld", (long long)min, (long long)max);
    throw_arg_error(ctx->env, true, "ERR_OUT_OF_RANGE", ctx->syscall, name, what);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool arg_bigint64(call_ctx *ctx, size_t i, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype type;
  if (i >= ctx->argc || napi_typeof(ctx->env, ctx->argv[i], &type) != napi_ok) return false;
  if (type == napi_number) return arg_int64(ctx, i, name, min, max, out);
  if (type != napi_bigint) {
    throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, name, "of type bigint or number");
    return false;
  }
  bool lossless = false;
  int64_t v;
  if (napi_get_value_bigint_int64(ctx->env, ctx->argv[i], &v, &lossless) != napi_ok) return false;
  if (!lossless || v < min || v > max) {
    char what[96];
    snprintf(what, sizeof what, ">= %lld and <= %lld", (long long)min, (long long)max);
    throw_arg_error(ctx->env, true, "ERR_OUT_OF_RANGE", ctx->syscall, name, what);
    return false;
  }
  *out = v;
  return true;
}

bool arg_fd(call_ctx *ctx, size_t i, const char *name, bool at_fdcwd_ok, int *out) {
  int64_t v;
  if (!arg_int64(ctx, i, name, at_fdcwd_ok ? AT_FDCWD : INT32_MIN, INT32_MAX, &v)) return false;
  if (v < 0 && !(at_fdcwd_ok && v == AT_FDCWD)) {
    throw_errno(ctx->env, EBADF, ctx->syscall);
    return false;
  }
  *out = (int)v;
  return true;
}

bool arg_name(call_ctx *ctx, size_t i, const char *name, name_arg *out) {
  napi_env env = ctx->env;
  napi_valuetype type;
  if (i >= ctx->argc || napi_typeof(env, ctx->argv[i], &type) != napi_ok) return false;
  if (type == napi_string) {
    size_t length;
    if (napi_get_value_string_utf8(env, ctx->argv[i], NULL, 0, &length) != napi_ok) return false;
    if (length >= sizeof out->bytes) {
      throw_errno(env, ENAMETOOLONG, ctx->syscall);
      return false;
    }
    if (napi_get_value_string_utf8(env, ctx->argv[i], out->bytes, sizeof out->bytes, &length) != napi_ok) return false;
    out->length = length;
  } else {
    bool is_typed = false;
    if (type == napi_object) napi_is_typedarray(env, ctx->argv[i], &is_typed);
    napi_typedarray_type ta_type = napi_int8_array;
    void *data = NULL;
    size_t length = 0;
    if (is_typed &&
        napi_get_typedarray_info(env, ctx->argv[i], &ta_type, &length, &data, NULL, NULL) != napi_ok)
      return false;
    if (!is_typed || ta_type != napi_uint8_array) {
      throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, name, "of type string or an instance of Buffer");
      return false;
    }
    if (length >= sizeof out->bytes) {
      throw_errno(env, ENAMETOOLONG, ctx->syscall);
      return false;
    }
    if (length > 0) memcpy(out->bytes, data, length);
    out->bytes[length] = '\0';
    out->length = length;
  }
  if (memchr(out->bytes, '\0', out->length) != NULL) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_VALUE", ctx->syscall, name, "a string or Buffer without null bytes");
    return false;
  }
  return true;
}

bool arg_string(call_ctx *ctx, size_t i, const char *name, char *buf, size_t cap) {
  napi_valuetype type;
  if (i >= ctx->argc || napi_typeof(ctx->env, ctx->argv[i], &type) != napi_ok || type != napi_string) {
    throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, name, "of type string");
    return false;
  }
  size_t length;
  if (napi_get_value_string_utf8(ctx->env, ctx->argv[i], NULL, 0, &length) != napi_ok) return false;
  if (length >= cap) {
    char what[64];
    snprintf(what, sizeof what, "shorter than %zu bytes", cap);
    throw_arg_error(ctx->env, true, "ERR_OUT_OF_RANGE", ctx->syscall, name, what);
    return false;
  }
  if (napi_get_value_string_utf8(ctx->env, ctx->argv[i], buf, cap, &length) != napi_ok) return false;
  if (strlen(buf) != length) {
    throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_VALUE", ctx->syscall, name, "a string without null bytes");
    return false;
  }
  return true;
}

napi_value make_undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

napi_value make_int(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

napi_value make_bigint_u(napi_env env, uint64_t n) {
  napi_value v;
  napi_create_bigint_uint64(env, n, &v);
  return v;
}

napi_value make_bigint_s(napi_env env, int64_t n) {
  napi_value v;
  napi_create_bigint_int64(env, n, &v);
  return v;
}

bool set_named(napi_env env, napi_value obj, const char *key, napi_value v) {
  return v != NULL && napi_set_named_property(env, obj, key, v) == napi_ok;
}
