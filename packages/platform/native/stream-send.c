/* A reply written straight to a connected stream socket: one sendmsg of
 * several buffers that never waits (MSG_DONTWAIT) and never raises SIGPIPE
 * (MSG_NOSIGNAL). A server whose replies are ready writes them in one call
 * from its own thread, without the stream machinery around every write, and
 * hands whatever the kernel did not take to its ordinary (queued) path.
 * Thin wrapper: check, call, convert. */
#define _GNU_SOURCE
#include "stream-send.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Buffers per call: a batch of replies of a few buffers each (the kernel takes up to IOV_MAX, 1024). */
#define SEND_NOWAIT_MAX 64

/* sendNowait(fd, buffers, count): sends buffers[0..count) in order as one
 * sendmsg; the bytes the kernel took (possibly fewer than offered, 0 for none
 * offered), or -1 when the socket's send buffer is full (EAGAIN). Any other
 * failure (EPIPE, ECONNRESET, ENOTSOCK) throws. */
napi_value js_send_nowait(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  int64_t count;
  if (!ctx_init(&ctx, env, info, "sendmsg", 3) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  bool is_array = false;
  if (napi_is_array(env, ctx.argv[1], &is_array) != napi_ok || !is_array)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "sendmsg", "buffers", "an Array of Buffer or Uint8Array");
  uint32_t length = 0;
  if (napi_get_array_length(env, ctx.argv[1], &length) != napi_ok) return NULL;
  int64_t max = length < SEND_NOWAIT_MAX ? (int64_t)length : SEND_NOWAIT_MAX;
  if (!arg_int64(&ctx, 2, "count", 0, max, &count)) return NULL;
  struct iovec iov[SEND_NOWAIT_MAX];
  for (uint32_t i = 0; i < (uint32_t)count; i++) {
    napi_value element;
    bool is_typed = false;
    napi_typedarray_type type = napi_int8_array;
    void *data = NULL;
    size_t size = 0;
    if (napi_get_element(env, ctx.argv[1], i, &element) != napi_ok) return NULL;
    if (napi_is_typedarray(env, element, &is_typed) != napi_ok) return NULL;
    if (is_typed && napi_get_typedarray_info(env, element, &type, &size, &data, NULL, NULL) != napi_ok) return NULL;
    if (!is_typed || type != napi_uint8_array)
      return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "sendmsg", "buffers", "an Array of Buffer or Uint8Array");
    if (size > 0 && data == NULL) return throw_errno(env, EFAULT, "sendmsg"); /* detached */
    iov[i].iov_base = data;
    iov[i].iov_len = size;
  }
  if (count == 0) return make_int(env, 0);
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)count};
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return make_int(env, -1);
  if (n < 0) return throw_errno(env, errno, "sendmsg");
  return make_int(env, n);
}
