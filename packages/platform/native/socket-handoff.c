/* Handing a connected socket to another thread of this process (an NFS
 * worker): Node cannot give up an fd it owns, so the accepting thread takes
 * a close-on-exec duplicate, closes its own handle, and the worker wraps the
 * duplicate. Only sockets are duplicated: a mistaken fd fails here, not as
 * a stream over a file in another thread. */
#define _GNU_SOURCE
#include "socket-handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

napi_value js_dup_socket(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  if (!ctx_init(&ctx, env, info, "fcntl", 1) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0) return throw_errno(env, errno, "fstat");
  if (!S_ISSOCK(st.st_mode)) return throw_errno(env, ENOTSOCK, "fcntl");
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return throw_errno(env, errno, "fcntl");
  return make_int(env, dup);
}
