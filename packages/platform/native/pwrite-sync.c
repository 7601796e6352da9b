/* A write that is on disk when it returns: pwritev2 with RWF_DSYNC (the data
 * and what reading it back needs, as fdatasync) or RWF_SYNC (all metadata
 * too, as fsync) of the written range. An NFS WRITE asked to be stable then
 * makes one hop to libuv's pool instead of two (write, then fsync). The
 * buffer is held by a reference until the promise settles. */
#define _GNU_SOURCE
#include "pwrite-sync.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x00000004
#endif

typedef struct {
  int fd;
  int flags;
  uint8_t *start;
  size_t length;
  int64_t position;
  size_t written;
  int err;
  napi_ref buffer;
  napi_deferred deferred;
  napi_async_work work;
} pwrite_job;

/* The whole range, a short write continued from where it stopped (each part
 * made durable by its own flag); a write of 0 bytes ends it short. */
static void pwrite_execute(napi_env env, void *data) {
  (void)env;
  pwrite_job *job = data;
  while (job->written < job->length) {
    struct iovec iov = {.iov_base = job->start + job->written, .iov_len = job->length - job->written};
    ssize_t n = pwritev2(job->fd, &iov, 1, (off_t)(job->position + (int64_t)job->written), job->flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      job->err = errno;
      return;
    }
    if (n == 0) return;
    job->written += (size_t)n;
  }
}

static void pwrite_complete(napi_env env, napi_status status, void *data) {
  pwrite_job *job = data;
  if (status != napi_ok)
    napi_reject_deferred(env, job->deferred, errno_error(env, ECANCELED, "pwritev2"));
  else if (job->err != 0)
    napi_reject_deferred(env, job->deferred, errno_error(env, job->err, "pwritev2"));
  else
    napi_resolve_deferred(env, job->deferred, make_int(env, (int64_t)job->written));
  napi_delete_reference(env, job->buffer);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* pwriteSync(fd, buffer, offset, length, position, flags): a promise of the
 * bytes written (all of `length` unless the file system stopped short).
 * flags: RWF_DSYNC or RWF_SYNC; length at most 2^31 - 1. */
napi_value js_pwrite_sync(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  if (!ctx_init(&ctx, env, info, "pwritev2", 6) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  napi_valuetype type;
  bool is_typed = false;
  if (napi_typeof(env, ctx.argv[1], &type) == napi_ok && type == napi_object) napi_is_typedarray(env, ctx.argv[1], &is_typed);
  napi_typedarray_type ta_type = napi_int8_array;
  uint8_t *bytes = NULL;
  size_t size = 0;
  if (is_typed && napi_get_typedarray_info(env, ctx.argv[1], &ta_type, &size, (void **)&bytes, NULL, NULL) != napi_ok) return NULL;
  if (!is_typed || ta_type != napi_uint8_array)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "pwritev2", "buffer", "an instance of Buffer or Uint8Array");
  int64_t offset, length, position, flags;
  if (!arg_int64(&ctx, 2, "offset", 0, (int64_t)size, &offset) ||
      !arg_int64(&ctx, 3, "length", 0, (int64_t)size - offset < INT32_MAX ? (int64_t)size - offset : INT32_MAX, &length) ||
      !arg_bigint64(&ctx, 4, "position", 0, INT64_MAX - length, &position) ||
      !arg_int64(&ctx, 5, "flags", 0, RWF_DSYNC | RWF_SYNC, &flags))
    return NULL;
  if (flags != RWF_DSYNC && flags != RWF_SYNC)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "pwritev2", "flags", "RWF_DSYNC or RWF_SYNC");
  if (length > 0 && bytes == NULL) return throw_errno(env, EFAULT, "pwritev2"); /* detached */
  pwrite_job *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "pwritev2");
  job->fd = fd;
  job->flags = (int)flags;
  job->start = bytes + offset;
  job->length = (size_t)length;
  job->position = position;
  napi_value promise, name;
  if (napi_create_reference(env, ctx.argv[1], 1, &job->buffer) != napi_ok) {
    free(job);
    return NULL;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "pwriteSync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, pwrite_execute, pwrite_complete, job, &job->work) != napi_ok) {
    napi_delete_reference(env, job->buffer);
    free(job);
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    napi_delete_reference(env, job->buffer);
    free(job);
    return NULL;
  }
  return promise;
}
