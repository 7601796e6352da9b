/* A reply written straight to a connected stream socket: one sendmsg of
 * several buffers that never waits (MSG_DONTWAIT) and never raises SIGPIPE
 * (MSG_NOSIGNAL). A server whose replies are ready writes them in one call
 * from its own thread, without the stream machinery around every write, and
 * hands whatever the kernel did not take to its ordinary (queued) path.
 * Thin wrapper: check, call, convert. */
#define _GNU_SOURCE
#include "stream-send.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* Buffers per call: a batch of replies of a few buffers each (the kernel takes up to IOV_MAX, 1024). */
#define SEND_NOWAIT_MAX 64

/* sendNowait(fd, buffers, count): sends buffers[0..count) in order as one
 * sendmsg; the bytes the kernel took (possibly fewer than offered, 0 for none
 * offered), or -1 when the socket's send buffer is full (EAGAIN). Any other
 * failure (EPIPE, ECONNRESET, ENOTSOCK) throws. */
/* Reads buffers[0..count) of argv[1] into iov; count is argv[2] (at most SEND_NOWAIT_MAX and the array's length). */
static bool arg_buffers(call_ctx *ctx, struct iovec *iov, int64_t *count) {
  napi_env env = ctx->env;
  bool is_array = false;
  if (napi_is_array(env, ctx->argv[1], &is_array) != napi_ok || !is_array) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "buffers", "an Array of Buffer or Uint8Array");
    return false;
  }
  uint32_t length = 0;
  if (napi_get_array_length(env, ctx->argv[1], &length) != napi_ok) return false;
  int64_t max = length < SEND_NOWAIT_MAX ? (int64_t)length : SEND_NOWAIT_MAX;
  if (!arg_int64(ctx, 2, "count", 0, max, count)) return false;
  for (uint32_t i = 0; i < (uint32_t)*count; i++) {
    napi_value element;
    bool is_typed = false;
    napi_typedarray_type type = napi_int8_array;
    void *data = NULL;
    size_t size = 0;
    if (napi_get_element(env, ctx->argv[1], i, &element) != napi_ok) return false;
    if (napi_is_typedarray(env, element, &is_typed) != napi_ok) return false;
    if (is_typed && napi_get_typedarray_info(env, element, &type, &size, &data, NULL, NULL) != napi_ok) return false;
    if (!is_typed || type != napi_uint8_array) {
      throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "buffers", "an Array of Buffer or Uint8Array");
      return false;
    }
    if (size > 0 && data == NULL) { /* detached */
      throw_errno(env, EFAULT, ctx->syscall);
      return false;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = size;
  }
  return true;
}

/* One sendmsg that never waits: the bytes taken, -1 for EAGAIN, -2 with errno set for any other failure. */
static ssize_t send_now(int fd, struct iovec *iov, int64_t count, int flags) {
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)count};
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
  return n < 0 ? -2 : n;
}

/* sendNowait(fd, buffers, count): sends buffers[0..count) in order as one
 * sendmsg; the bytes the kernel took (possibly fewer than offered, 0 for none
 * offered), or -1 when the socket's send buffer is full (EAGAIN). Any other
 * failure (EPIPE, ECONNRESET, ENOTSOCK) throws. */
napi_value js_send_nowait(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  int64_t count;
  struct iovec iov[SEND_NOWAIT_MAX];
  if (!ctx_init(&ctx, env, info, "sendmsg", 3) || !arg_fd(&ctx, 0, "fd", false, &fd) || !arg_buffers(&ctx, iov, &count)) return NULL;
  if (count == 0) return make_int(env, 0);
  ssize_t n = send_now(fd, iov, count, 0);
  if (n == -2) return throw_errno(env, errno, "sendmsg");
  return make_int(env, n);
}

/* sendFileNowait(fd, buffers, count, fileFd, position, length): buffers[0..count)
 * in one sendmsg (MSG_MORE: the file's bytes follow in the same segments), then,
 * once all of them are taken, `length` bytes of fileFd from `position` by
 * sendfile, which hands the socket the page cache's pages instead of copying
 * them; never waits for room (the socket is non-blocking). The bytes taken,
 * buffers' and file's together: fewer than offered when the send buffer filled
 * or the file ended first (the caller tells which by reading the rest), -1 for
 * none. The file's pages are not checked here: the caller sends only what it
 * knows the page cache holds, or sendfile would wait for the disk. EPIPE,
 * ECONNRESET and the like throw, as does a fileFd sendfile cannot read. */
napi_value js_send_file_nowait(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd, file_fd;
  int64_t count, position, length;
  struct iovec iov[SEND_NOWAIT_MAX];
  if (!ctx_init(&ctx, env, info, "sendmsg", 6) || !arg_fd(&ctx, 0, "fd", false, &fd) || !arg_buffers(&ctx, iov, &count) ||
      !arg_fd(&ctx, 3, "fileFd", false, &file_fd) || !arg_int64(&ctx, 5, "length", 0, 0x7ffff000, &length) ||
      !arg_bigint64(&ctx, 4, "position", 0, INT64_MAX - length, &position))
    return NULL;
  size_t head = 0;
  for (int64_t i = 0; i < count; i++) head += iov[i].iov_len;
  ssize_t taken = 0;
  if (head > 0) {
    taken = send_now(fd, iov, count, length > 0 ? MSG_MORE : 0);
    if (taken == -2) return throw_errno(env, errno, "sendmsg");
    if (taken < 0) return make_int(env, -1);
    if ((size_t)taken < head) return make_int(env, taken);
  }
  off_t at = (off_t)position;
  int64_t left = length;
  while (left > 0) {
    ssize_t n = sendfile(fd, file_fd, &at, (size_t)left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return throw_errno(env, errno, "sendfile");
    if (n == 0) break; /* the file ended first */
    taken += n;
    left -= n;
  }
  return make_int(env, taken == 0 && (head > 0 || length > 0) ? -1 : taken);
}

/* The bytes sent, or why nothing was: the file's range was not all in the
 * page cache (or the file is shorter), or the socket was full. */
#define SEND_READ_UNCACHED (-1)
#define SEND_READ_FULL (-2)

/* sendReadNowait(sockFd, buffer, headLength, fd, position, length): a small
 * response in one call. Reads `length` bytes of `fd` from `position` into
 * buffer[headLength, headLength + length) with preadv2(RWF_NOWAIT), which
 * answers from the page cache and never waits for the disk, then sends
 * buffer[0, headLength + length) (a head the caller wrote there, then the
 * body) in one sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL). Returns the bytes the
 * kernel took (possibly fewer than offered), -1 when the range was not all
 * read (not cached, or the file ended first: nothing sent), or -2 when the
 * socket took none (EAGAIN: the buffer holds head and body for the caller to
 * queue). Read errors other than EAGAIN and send errors other than EAGAIN
 * (EPIPE, ECONNRESET, ENOTSOCK) throw. The range must lie within the buffer. */
napi_value js_send_read_nowait(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int sock_fd, fd;
  int64_t head_length, length, position;
  if (!ctx_init(&ctx, env, info, "sendmsg", 6) || !arg_fd(&ctx, 0, "sockFd", false, &sock_fd)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  uint8_t *data = NULL;
  size_t size = 0;
  if (napi_is_typedarray(env, ctx.argv[1], &is_typed) != napi_ok) return NULL;
  if (is_typed && napi_get_typedarray_info(env, ctx.argv[1], &type, &size, (void **)&data, NULL, NULL) != napi_ok)
    return NULL;
  if (!is_typed || type != napi_uint8_array)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "sendmsg", "buffer", "an instance of Buffer or Uint8Array");
  if (!arg_int64(&ctx, 2, "headLength", 0, (int64_t)size, &head_length) || !arg_fd(&ctx, 3, "fd", false, &fd) ||
      !arg_bigint64(&ctx, 4, "position", 0, INT64_MAX - (int64_t)size, &position) ||
      !arg_int64(&ctx, 5, "length", 0, (int64_t)size - head_length, &length))
    return NULL;
  if (size > 0 && data == NULL) return throw_errno(env, EFAULT, "sendmsg"); /* detached */
  if (length > 0) {
    struct iovec body = {.iov_base = data + head_length, .iov_len = (size_t)length};
    ssize_t r;
    do {
      r = preadv2(fd, &body, 1, (off_t)position, RWF_NOWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EAGAIN) return throw_errno(env, errno, "preadv2");
    if (r != length) return make_int(env, SEND_READ_UNCACHED);
  }
  size_t total = (size_t)(head_length + length);
  if (total == 0) return make_int(env, 0);
  struct iovec whole = {.iov_base = data, .iov_len = total};
  ssize_t n = send_now(sock_fd, &whole, 1, 0);
  if (n == -2) return throw_errno(env, errno, "sendmsg");
  return make_int(env, n == -1 ? SEND_READ_FULL : n);
}
