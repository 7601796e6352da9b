/* Open-file-description byte-range locks (fcntl F_OFD_*): owned by the open
 * file, not the process, so each NLM lock can have its own, and a process on
 * the master using fcntl/lockf sees them. The blocking form runs on a thread
 * of its own: parked there for as long as another holder keeps the range, it
 * must not occupy one of libuv's four pool threads that node:fs needs. */
#define _GNU_SOURCE
#include "ofd-locks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool lock_args(call_ctx *ctx, int *fd, struct flock *fl) {
  int64_t type, start, len;
  if (!arg_fd(ctx, 0, "fd", false, fd) || !arg_int64(ctx, 1, "type", 0, 2, &type) ||
      !arg_bigint64(ctx, 2, "start", 0, INT64_MAX, &start) || !arg_bigint64(ctx, 3, "len", 0, INT64_MAX, &len))
    return false;
  if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) {
    throw_arg_error(ctx->env, true, "ERR_OUT_OF_RANGE", ctx->syscall, "type", "F_RDLCK, F_WRLCK or F_UNLCK");
    return false;
  }
  /* start + len - 1 must fit an off_t, as the kernel checks (EOVERFLOW) too. */
  if (len > 0 && start > INT64_MAX - (len - 1)) {
    throw_errno(ctx->env, EOVERFLOW, ctx->syscall);
    return false;
  }
  memset(fl, 0, sizeof *fl);
  fl->l_type = (short)type;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)start;
  fl->l_len = (off_t)len;
  fl->l_pid = 0; /* required 0 for OFD locks */
  return true;
}

napi_value js_ofd_set_lock(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  struct flock fl;
  if (!ctx_init(&ctx, env, info, "fcntl", 4) || !lock_args(&ctx, &fd, &fl)) return NULL;
  if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
    if (errno == EAGAIN || errno == EACCES) return make_bool(env, false);
    return throw_errno(env, errno, "fcntl");
  }
  return make_bool(env, true);
}

napi_value js_ofd_get_lock(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  struct flock fl;
  if (!ctx_init(&ctx, env, info, "fcntl", 4) || !lock_args(&ctx, &fd, &fl)) return NULL;
  if (fl.l_type == F_UNLCK) {
    throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "fcntl", "type", "F_RDLCK or F_WRLCK to test");
    return NULL;
  }
  if (fcntl(fd, F_OFD_GETLK, &fl) < 0) return throw_errno(env, errno, "fcntl");
  napi_value result;
  if (fl.l_type == F_UNLCK) {
    napi_get_null(env, &result);
    return result;
  }
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  if (!set_named(env, result, "type", make_int(env, fl.l_type)) ||
      !set_named(env, result, "start", make_bigint_s(env, fl.l_start)) ||
      !set_named(env, result, "len", make_bigint_s(env, fl.l_len)) ||
      !set_named(env, result, "pid", make_int(env, fl.l_pid)))
    return NULL;
  return result;
}

typedef struct {
  int fd;
  struct flock fl;
  int err;
  napi_deferred deferred;
  napi_threadsafe_function done;
} lock_wait;

static void lock_wait_settle(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  lock_wait *w = data;
  if (env != NULL) {
    if (w->err == 0)
      napi_resolve_deferred(env, w->deferred, make_undefined(env));
    else
      napi_reject_deferred(env, w->deferred, errno_error(env, w->err, "fcntl"));
  }
  napi_release_threadsafe_function(w->done, napi_tsfn_release);
  free(w);
}

static void *lock_wait_thread(void *arg) {
  lock_wait *w = arg;
  int r;
  do r = fcntl(w->fd, F_OFD_SETLKW, &w->fl);
  while (r < 0 && errno == EINTR);
  w->err = r < 0 ? errno : 0;
  close(w->fd);
  napi_call_threadsafe_function(w->done, w, napi_tsfn_blocking);
  return NULL;
}

napi_value js_ofd_set_lock_wait(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  struct flock fl;
  if (!ctx_init(&ctx, env, info, "fcntl", 4) || !lock_args(&ctx, &fd, &fl)) return NULL;
  /* keepAlive (default true): whether the wait holds the process open, as pending I/O does.
   * A server passes false, so that stopping it is not held up by a lock someone else keeps. */
  bool keep_alive = true;
  napi_valuetype keep_type = napi_undefined;
  if (ctx.argc > 4 && napi_typeof(env, ctx.argv[4], &keep_type) == napi_ok && keep_type != napi_undefined) {
    if (keep_type != napi_boolean) {
      throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "fcntl", "keepAlive", "of type boolean");
      return NULL;
    }
    napi_get_value_bool(env, ctx.argv[4], &keep_alive);
  }
  /* The thread works on a duplicate: the same open file description (so the
   * same lock owner), yet safe if the caller closes its fd meanwhile. */
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return throw_errno(env, errno, "fcntl");
  lock_wait *w = calloc(1, sizeof *w);
  if (w == NULL) {
    close(dup_fd);
    return throw_errno(env, ENOMEM, "fcntl");
  }
  w->fd = dup_fd;
  w->fl = fl;
  napi_value promise, name;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "ofdSetLockWait", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, lock_wait_settle, &w->done) !=
          napi_ok) {
    close(dup_fd);
    free(w);
    return NULL;
  }
  if (!keep_alive) napi_unref_threadsafe_function(env, w->done);
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int err = pthread_create(&thread, &attr, lock_wait_thread, w);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    napi_reject_deferred(env, w->deferred, errno_error(env, err, "pthread_create"));
    napi_release_threadsafe_function(w->done, napi_tsfn_release);
    close(dup_fd);
    free(w);
  }
  return promise;
}
