/* sendfileAll: a whole byte range of a file to a non-blocking socket with
 * sendfile(2), driven from the event loop, with one JavaScript call when it
 * ends instead of one per chunk. HTTP bodies (kernels, initrds) leave the page
 * cache without being copied into JavaScript buffers.
 *
 * The socket belongs to Node, whose libuv already polls its fd: a second
 * poll on the same fd is UV_EEXIST, so the transfer polls a dup of it. The
 * dup keeps the connection open until the transfer ends, so the caller
 * cancels the transfer when its socket closes. A poll is level-triggered:
 * each loop turn sends at most TURN_BUDGET bytes per transfer, so one fast
 * reader cannot hold the loop while others wait, and a socket still writable
 * after its budget is called again on the next turn.
 *
 * A send of bytes the page cache lacks would wait on the loop for the disk,
 * and every other connection (and the DHCP and TFTP services beside) with it.
 * So before sending past what it has seen cached, the transfer samples the
 * next window: a one-byte preadv2 with RWF_NOWAIT every SAMPLE_STRIDE bytes and
 * at its last byte, each a fraction of a microsecond, answered from the cache
 * or refused (EAGAIN) when that page is missing or still being read in. (An
 * exact count costs far more: mincore over 8 MiB takes 100 us and more, a
 * third of what sending it costs; cachestat counts pages still being read
 * as cached.) When a sample misses, the poll stops and a thread of libuv's
 * pool reads the window into the cache (sendfile to /dev/null: no copy), and
 * the loop sends it once that is done. Cached files never leave the loop. A
 * hole of evicted pages narrower than the stride between two samples is the
 * one case the loop still reads from the disk, at most a turn's worth.
 *
 * The transfer's memory belongs to no JavaScript object: the uv_poll_t lives
 * in it until its close callback, whatever the garbage collector does; the
 * object returned to JavaScript only points at it, and the two sides free it
 * together (whichever lets go last). */
#define _GNU_SOURCE
#include "sendfile-all.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* The kernel moves at most 0x7ffff000 bytes a call. */
#define SENDFILE_MAX 0x7ffff000
#define TURN_BUDGET (2 << 20)
/* EINTR retries within one turn; a signal storm ends the turn, not the transfer. */
#define EINTR_RETRIES 8
/* Bytes sampled (and read into the cache when a sample misses) at a time:
 * one pool job per window on a cold file. */
#define WINDOW (16 << 20)
/* Bytes between two samples of a window: 9 one-byte reads per 16 MiB, under
 * 600 per GiB and some 0.15 ms of CPU. A hole the samples step over is at
 * most a turn's budget, what a turn read from the disk before there were samples. */
#define SAMPLE_STRIDE TURN_BUDGET

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int sock; /* the dup polled and written */
  int file; /* the caller's; it stays open until `done` is called */
  int64_t offset;
  int64_t left;
  int64_t sent;
  int64_t cached_end; /* the offset up to which the page cache was seen to hold the file */
  int64_t warm_from;  /* the window a pool thread reads into the cache */
  int64_t warm_len;
  int64_t warm_got;   /* what the pool job read (written only off the loop, while `warming`) */
  int64_t warmed;     /* bytes read into the cache in the pool, all jobs (a test seam, and what a cold file cost) */
  int warm_err;
  uv_work_t work;
  int err;       /* why it ended: 0 done, ECANCELED, an errno, or -UV_EOF when the file was short */
  int owners;    /* the poll handle until its close callback, and the JavaScript object until collected */
  bool ending;   /* the poll is closing (or will once the pool job is back) */
  bool warming;  /* a pool job reads the file: the poll is stopped, `file` in use off the loop */
  bool unprobed; /* the page cache cannot be asked about this file: send as if cached */
  bool teardown; /* the environment is going away: no JavaScript is called */
  bool has_callback;
  bool hooked;
  napi_ref done;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
} transfer;

static void let_go(transfer *t) {
  if (--t->owners == 0) free(t);
}

static void call_done(transfer *t) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[2], result;
  if (napi_get_reference_value(env, t->done, &fn) == napi_ok && napi_get_global(env, &recv) == napi_ok) {
    if (t->err != 0)
      argv[0] = errno_error(env, t->err, "sendfile");
    else
      napi_get_null(env, &argv[0]);
    argv[1] = make_int(env, t->sent);
    /* A throw in `done` would otherwise stay pending, and every later Node-API call would fail:
     * it goes to process 'uncaughtException' as any callback's would. */
    if (argv[0] != NULL && argv[1] != NULL &&
        napi_make_callback(env, t->async, recv, fn, 2, argv, &result) == napi_pending_exception) {
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Lets go of the cleanup hook and the callback (at teardown the environment frees the callback itself;
 * the hook is removed only once the poll is closed, which tells Node the cleanup is over). */
static void unhook(transfer *t) {
  if (t->hooked) napi_remove_async_cleanup_hook(t->cleanup);
  t->hooked = false;
  if (t->has_callback && !t->teardown) {
    napi_async_destroy(t->env, t->async);
    napi_delete_reference(t->env, t->done);
  }
  t->has_callback = false;
}

static void on_closed(uv_handle_t *handle) {
  transfer *t = handle->data;
  close(t->sock);
  if (t->has_callback && !t->teardown) call_done(t);
  unhook(t);
  let_go(t);
}

static void end_transfer(transfer *t, int err) {
  if (t->ending) return;
  t->ending = true;
  t->err = err;
  uv_poll_stop(&t->poll);
  /* A pool job still reads the caller's file: `done` (after which the caller closes it) waits for it. */
  if (t->warming)
    uv_cancel((uv_req_t *)&t->work);
  else
    uv_close((uv_handle_t *)&t->poll, on_closed);
}

/* Opened once per process, for the pool's reads into the cache; -1 when it cannot be. */
static int dev_null = -1;
static pthread_once_t dev_null_once = PTHREAD_ONCE_INIT;
static void open_dev_null(void) {
  dev_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
}

/* On a pool thread: the window read into the page cache. The socket is not touched off the loop. */
static void warm_window(uv_work_t *work) {
  transfer *t = work->data;
  int64_t at = t->warm_from, end = t->warm_from + t->warm_len;
  unsigned char scratch[16384];
  int interrupted = 0;
  t->warm_err = 0;
  t->warm_got = 0;
  while (at < end) {
    size_t want = (size_t)(end - at < SENDFILE_MAX ? end - at : SENDFILE_MAX);
    off_t off = (off_t)at;
    ssize_t n = dev_null >= 0 ? sendfile(dev_null, t->file, &off, want)
                              : pread(t->file, scratch, want < sizeof scratch ? want : sizeof scratch, off);
    if (n < 0 && errno == EINTR && ++interrupted < EINTR_RETRIES) continue;
    if (n < 0) {
      t->warm_err = errno;
      return;
    }
    if (n == 0) return; /* a short file: the send on the loop says so */
    at += n;
    t->warm_got += n;
  }
}

static void on_writable(uv_poll_t *poll, int status, int events);

/* Back on the loop: send the window, or end as asked meanwhile. */
static void warmed_window(uv_work_t *work, int status) {
  transfer *t = work->data;
  t->warming = false;
  t->warmed += t->warm_got;
  if (t->ending) {
    uv_close((uv_handle_t *)&t->poll, on_closed);
    return;
  }
  if (status < 0) {
    end_transfer(t, -status);
    return;
  }
  if (t->warm_err != 0) {
    end_transfer(t, t->warm_err);
    return;
  }
  t->cached_end = t->warm_from + t->warm_len;
  int r = uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
  if (r < 0) end_transfer(t, -r);
}

/* Whether a one-byte read at `at` is answered from the page cache: false when that page is
 * missing or not yet read in. A file system without non-blocking reads cannot be sampled,
 * and its file is sent as if cached (as before there was sampling). */
static bool sample_cached(transfer *t, int64_t at) {
  unsigned char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  ssize_t n;
  int interrupted = 0;
  do n = preadv2(t->file, &iov, 1, (off_t)at, RWF_NOWAIT);
  while (n < 0 && errno == EINTR && ++interrupted < EINTR_RETRIES);
  if (n >= 0) return true; /* 0: past the end, which the send reports */
  if (errno == EAGAIN) return false;
  t->unprobed = true;
  return true;
}

/* Whether the next window is in the page cache; if not, a pool job reads it and the poll waits. */
static bool window_cached(transfer *t) {
  int64_t len = t->left < WINDOW ? t->left : WINDOW;
  bool cached = true;
  for (int64_t at = t->offset; cached && !t->unprobed && at < t->offset + len; at += SAMPLE_STRIDE) cached = sample_cached(t, at);
  if (cached && !t->unprobed) cached = sample_cached(t, t->offset + len - 1);
  if (t->unprobed || cached) {
    t->cached_end = t->offset + len;
    return true;
  }
  pthread_once(&dev_null_once, open_dev_null);
  t->warm_from = t->offset;
  t->warm_len = len;
  uv_loop_t *loop = uv_handle_get_loop((uv_handle_t *)&t->poll);
  t->work.data = t;
  int r = uv_queue_work(loop, &t->work, warm_window, warmed_window);
  if (r < 0) {
    end_transfer(t, -r);
    return false;
  }
  t->warming = true;
  uv_poll_stop(&t->poll);
  return false;
}

static void on_writable(uv_poll_t *poll, int status, int events) {
  (void)events;
  transfer *t = poll->data;
  if (t->ending) return;
  if (status < 0) {
    /* libuv says EBADF for any POLLERR (and has stopped the poll); the socket knows the real cause:
     * its pending error, or, when Node's read took that first, what a write now says (EPIPE). */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(t->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = 0;
    if (err == 0) {
      off_t off = (off_t)t->offset;
      err = sendfile(t->sock, t->file, &off, 1) < 0 && errno != EAGAIN ? errno : EPIPE;
    }
    end_transfer(t, err);
    return;
  }
  int64_t budget = TURN_BUDGET;
  int interrupted = 0;
  while (t->left > 0 && budget > 0) {
    if (t->offset >= t->cached_end && !window_cached(t)) return;
    int64_t most = t->cached_end - t->offset < budget ? t->cached_end - t->offset : budget;
    size_t want = (size_t)(t->left < most ? t->left : most);
    off_t off = (off_t)t->offset;
    ssize_t n = sendfile(t->sock, t->file, &off, want);
    if (n < 0) {
      if (errno == EINTR && ++interrupted < EINTR_RETRIES) continue;
      if (errno == EAGAIN || errno == EINTR) return; /* called again when there is room */
      end_transfer(t, errno);
      return;
    }
    if (n == 0) {
      /* The file is shorter than the range promised (truncated since): the peer was told more bytes. */
      end_transfer(t, -UV_EOF);
      return;
    }
    t->offset += n;
    t->left -= n;
    t->sent += n;
    budget -= n;
  }
  if (t->left == 0) end_transfer(t, 0);
}

/* The environment is being torn down (a worker thread ending) with the transfer under way:
 * the poll is closed, nobody is called back. */
static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  transfer *t = arg;
  (void)handle; /* the same as t->cleanup, removed by on_closed */
  t->teardown = true;
  if (t->ending) return;
  t->ending = true;
  uv_poll_stop(&t->poll);
  if (t->warming)
    uv_cancel((uv_req_t *)&t->work);
  else
    uv_close((uv_handle_t *)&t->poll, on_closed);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  let_go(data);
}

static transfer *this_transfer(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a sendfileAll transfer");
    return NULL;
  }
  return data;
}

static napi_value js_sent(napi_env env, napi_callback_info info) {
  transfer *t = this_transfer(env, info);
  return t == NULL ? NULL : make_int(env, t->sent);
}

/* Bytes sent but not yet acknowledged by the peer (SIOCOUTQ): with `sent`, how far the peer has read. */
/* Bytes a pool thread read into the page cache for this transfer: 0 for a file that was cached. */
static napi_value js_warmed(napi_env env, napi_callback_info info) {
  transfer *t = this_transfer(env, info);
  return t == NULL ? NULL : make_int(env, t->warmed);
}

static napi_value js_queued(napi_env env, napi_callback_info info) {
  transfer *t = this_transfer(env, info);
  if (t == NULL) return NULL;
  int queued = 0;
  if (t->ending || ioctl(t->sock, SIOCOUTQ, &queued) < 0) queued = 0;
  return make_int(env, queued);
}

static napi_value js_cancel(napi_env env, napi_callback_info info) {
  transfer *t = this_transfer(env, info);
  if (t == NULL) return NULL;
  end_transfer(t, ECANCELED);
  return make_undefined(env);
}

/* A Node-API step failed after the poll was set up: close it without calling back. */
static napi_value abandon(napi_env env, transfer *t) {
  unhook(t);
  end_transfer(t, ECANCELED);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) throw_errno(env, ENOMEM, "sendfileAll");
  return NULL;
}

napi_value js_sendfile_all(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int out_fd, in_fd;
  int64_t offset, count;
  if (!ctx_init(&ctx, env, info, "sendfileAll", 5) || !arg_fd(&ctx, 0, "outFd", false, &out_fd) ||
      !arg_fd(&ctx, 1, "inFd", false, &in_fd) || !arg_bigint64(&ctx, 2, "offset", 0, INT64_MAX, &offset) ||
      !arg_int64(&ctx, 3, "count", 0, (int64_t)1 << 53, &count))
    return NULL;
  napi_valuetype type;
  if (napi_typeof(env, ctx.argv[4], &type) != napi_ok || type != napi_function)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "sendfileAll", "done", "of type function");
  if (count > INT64_MAX - offset)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendfileAll", "count", "such that offset + count fits in 64 bits");
  /* Only a non-blocking socket: sendfile on a blocking one would stall the event loop. */
  struct stat st;
  int fl = fcntl(out_fd, F_GETFL);
  if (fl < 0 || fstat(out_fd, &st) < 0) return throw_errno(env, errno, "sendfileAll");
  if (!S_ISSOCK(st.st_mode) || (fl & O_NONBLOCK) == 0)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_VALUE", "sendfileAll", "outFd", "a non-blocking socket");
  if (fstat(in_fd, &st) < 0) return throw_errno(env, errno, "sendfileAll");

  uv_loop_t *loop;
  napi_value self, name;
  napi_property_descriptor methods[] = {
      {"sent", NULL, js_sent, NULL, NULL, NULL, napi_default, NULL},
      {"queued", NULL, js_queued, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"warmed", NULL, js_warmed, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || napi_create_object(env, &self) != napi_ok ||
      napi_define_properties(env, self, 4, methods) != napi_ok ||
      napi_create_string_utf8(env, "sendfileAll", NAPI_AUTO_LENGTH, &name) != napi_ok)
    return NULL;
  transfer *t = calloc(1, sizeof *t);
  if (t == NULL) return throw_errno(env, ENOMEM, "sendfileAll");
  t->env = env;
  t->file = in_fd;
  t->offset = offset;
  t->left = count;
  t->sock = fcntl(out_fd, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0) {
    int err = errno;
    free(t);
    return throw_errno(env, err, "dup");
  }
  int r = uv_poll_init(loop, &t->poll, t->sock);
  if (r < 0) {
    close(t->sock);
    free(t);
    return throw_errno(env, -r, "uv_poll_init");
  }
  t->poll.data = t;
  t->owners = 1; /* from here every way out goes through uv_close and on_closed */
  if (napi_async_init(env, NULL, name, &t->async) != napi_ok) return abandon(env, t);
  if (napi_create_reference(env, ctx.argv[4], 1, &t->done) != napi_ok) {
    napi_async_destroy(env, t->async);
    return abandon(env, t);
  }
  t->has_callback = true;
  if (napi_add_async_cleanup_hook(env, on_cleanup, t, &t->cleanup) != napi_ok) return abandon(env, t);
  t->hooked = true;
  if (napi_wrap(env, self, t, finalize, NULL, NULL) != napi_ok) return abandon(env, t);
  t->owners = 2;
  r = uv_poll_start(&t->poll, UV_WRITABLE, on_writable);
  /* Called back with the error, like any failure once it has started. */
  if (r < 0) end_transfer(t, -r);
  return self;
}
