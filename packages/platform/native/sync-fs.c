/* syncfs(2): flush the whole file system holding an fd, for an image import
 * that wrote thousands of files (one call instead of an fsync per file).
 * It can take seconds, so it runs on libuv's pool and returns a promise. The
 * fd must stay open until the promise settles (the caller's side). */
#define _GNU_SOURCE
#include "sync-fs.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
  int fd;
  int err;
  napi_deferred deferred;
  napi_async_work work;
} syncfs_job;

static void syncfs_execute(napi_env env, void *data) {
  (void)env;
  syncfs_job *job = data;
  job->err = syncfs(job->fd) < 0 ? errno : 0;
}

static void syncfs_complete(napi_env env, napi_status status, void *data) {
  syncfs_job *job = data;
  if (status != napi_ok)
    napi_reject_deferred(env, job->deferred, errno_error(env, ECANCELED, "syncfs"));
  else if (job->err != 0)
    napi_reject_deferred(env, job->deferred, errno_error(env, job->err, "syncfs"));
  else
    napi_resolve_deferred(env, job->deferred, make_undefined(env));
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value js_syncfs(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  if (!ctx_init(&ctx, env, info, "syncfs", 1) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  syncfs_job *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "syncfs");
  job->fd = fd;
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "syncfs", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, syncfs_execute, syncfs_complete, job, &job->work) != napi_ok) {
    free(job);
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    return NULL;
  }
  return promise;
}
