/* Socket calls Node lacks: SO_BINDTODEVICE and SO_RCVBUFFORCE on a bound
 * node:dgram socket's fd, SO_RCVLOWAT and SO_SNDBUF on a node:net socket's
 * (SO_SNDBUF on a listening server's too), and sendfile for HTTP bodies. All act on fds Node owns; none blocks
 * (the sockets are non-blocking, so a full socket is EAGAIN, thrown). */
#define _GNU_SOURCE
#include "sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <net/if.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

napi_value js_bind_to_device(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  char ifname[IFNAMSIZ];
  if (!ctx_init(&ctx, env, info, "setsockopt", 2) || !arg_fd(&ctx, 0, "fd", false, &fd) ||
      !arg_string(&ctx, 1, "ifname", ifname, sizeof ifname))
    return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
    return throw_errno(env, errno, "setsockopt");
  return make_undefined(env);
}

/* The (fd, bytes) of a call that sets an int socket option, bytes 1..max;
 * false, with the JavaScript error thrown, when either is wrong. */
static bool fd_and_size(napi_env env, napi_callback_info info, int64_t max, int *fd, int *size) {
  call_ctx ctx;
  int64_t bytes;
  if (!ctx_init(&ctx, env, info, "setsockopt", 2) || !arg_fd(&ctx, 0, "fd", false, fd) || !arg_int64(&ctx, 1, "bytes", 1, max, &bytes))
    return false;
  *size = (int)bytes;
  return true;
}

/* SO_RCVBUFFORCE: a receive buffer past net.core.rmem_max (which caps
 * SO_RCVBUF, often at about 208 KiB), for a DHCP server that must hold a
 * room's burst of DISCOVERs. It needs CAP_NET_ADMIN: without it, false and
 * the buffer as it was. The kernel doubles the size asked for (bookkeeping)
 * and takes an int, so at most INT_MAX / 2. */
napi_value js_receive_buffer_force(napi_env env, napi_callback_info info) {
  int fd, size;
  if (!fd_and_size(env, info, INT32_MAX / 2, &fd, &size)) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    if (errno == EPERM) return make_bool(env, false);
    return throw_errno(env, errno, "setsockopt");
  }
  return make_bool(env, true);
}

/* SO_RCVLOWAT: the bytes a TCP socket must hold before it polls readable,
 * so a reader that knows how much the rest of a record is wakes once for it
 * rather than once per segment that arrives. 1 is the default. The kernel
 * caps it at half of the largest receive buffer and grows the buffer to fit;
 * it still wakes the reader when the buffer or the window fills, or at the
 * peer's FIN or an error. */
napi_value js_receive_low_water(napi_env env, napi_callback_info info) {
  int fd, size;
  if (!fd_and_size(env, info, INT32_MAX, &fd, &size)) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &size, sizeof size) < 0) return throw_errno(env, errno, "setsockopt");
  return make_undefined(env);
}

/* The size of a socket's send buffer as the kernel reports it (twice what was asked: its bookkeeping share). */
static napi_value send_buffer_now(napi_env env, int fd) {
  int size = 0;
  socklen_t len = sizeof size;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0) return throw_errno(env, errno, "getsockopt");
  return make_int(env, size);
}

/* SO_SNDBUF: a fixed send buffer of `bytes` (capped by net.core.wmem_max), which also ends the
 * kernel's autotuning of it; a listening socket's is inherited by the connections it accepts.
 * The kernel takes an int and doubles it, so at most INT_MAX / 2. Returns the size it reports. */
napi_value js_set_send_buffer(napi_env env, napi_callback_info info) {
  int fd, size;
  if (!fd_and_size(env, info, INT32_MAX / 2, &fd, &size)) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0) return throw_errno(env, errno, "setsockopt");
  return send_buffer_now(env, fd);
}

napi_value js_send_buffer_size(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  if (!ctx_init(&ctx, env, info, "getsockopt", 1) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  return send_buffer_now(env, fd);
}

/* The kernel moves at most 0x7ffff000 bytes a call. */
#define SENDFILE_MAX 0x7ffff000

napi_value js_sendfile(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int out_fd, in_fd;
  int64_t offset, count;
  if (!ctx_init(&ctx, env, info, "sendfile", 4) || !arg_fd(&ctx, 0, "outFd", false, &out_fd) ||
      !arg_fd(&ctx, 1, "inFd", false, &in_fd) || !arg_bigint64(&ctx, 2, "offset", 0, INT64_MAX, &offset) ||
      !arg_int64(&ctx, 3, "count", 0, SENDFILE_MAX, &count))
    return NULL;
  /* A blocking socket or pipe would stall the event loop until it drains. */
  int fl = fcntl(out_fd, F_GETFL);
  struct stat st;
  if (fl < 0 || fstat(out_fd, &st) < 0) return throw_errno(env, errno, "sendfile");
  if ((S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)) && (fl & O_NONBLOCK) == 0)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_VALUE", "sendfile", "outFd", "a non-blocking socket or pipe");
  off_t off = (off_t)offset;
  ssize_t n = sendfile(out_fd, in_fd, &off, (size_t)count);
  if (n < 0) return throw_errno(env, errno, "sendfile");
  return make_int(env, n);
}
