/* The fd-relative file-system calls: every path is resolved beneath a
 * directory fd the caller already holds, so no absolute path built from
 * client input reaches the kernel. Thin wrappers: check, call, convert. */
#define _GNU_SOURCE
#include "fs-calls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define RESOLVE_KNOWN                                                                                  \
  (RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | \
   RESOLVE_CACHED)

/* Kernels before 5.6 have no openat2: walk the path one component at a time
 * from dirfd, each step with O_NOFOLLOW, refusing absolute paths and '..'
 * (EXDEV, as openat2 does for an escape) and any symlink (ELOOP). That is
 * stricter than RESOLVE_BENEATH alone, never looser. Returns fd or -errno. */
int open_beneath_walk(int dirfd, const char *path, int flags, mode_t mode) {
  if (path[0] == '/') return -EXDEV;
  if (path[0] == '\0') return -ENOENT;
  char component[NAME_MAX + 1];
  int current = dirfd;
  const char *p = path;
  for (;;) {
    while (*p == '/') p++;
    const char *end = strchr(p, '/');
    size_t length = end ? (size_t)(end - p) : strlen(p);
    const char *rest = end;
    while (rest && *rest == '/') rest++;
    bool last = rest == NULL || *rest == '\0';
    if (length > NAME_MAX) {
      if (current != dirfd) close(current);
      return -ENAMETOOLONG;
    }
    memcpy(component, p, length);
    component[length] = '\0';
    if (strcmp(component, "..") == 0) {
      if (current != dirfd) close(current);
      return -EXDEV;
    }
    int next;
    if (last) {
      /* A trailing slash asks for a directory, as the kernel reads it. */
      int extra = end ? O_DIRECTORY : 0;
      next = openat(current, length ? component : ".", flags | extra | O_NOFOLLOW | O_CLOEXEC, mode);
    } else if (strcmp(component, ".") == 0) {
      p = rest;
      continue;
    } else {
      next = openat(current, component, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    int err = next < 0 ? errno : 0;
    if (next < 0 && err == ENOTDIR && !last) {
      /* O_NOFOLLOW|O_PATH|O_DIRECTORY on a symlink says ENOTDIR; openat2 says ELOOP. */
      struct stat st;
      if (fstatat(current, component, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) err = ELOOP;
    }
    if (current != dirfd) close(current);
    if (next < 0) return -err;
    if (last) return next;
    current = next;
    p = rest;
  }
}

static bool open_args(call_ctx *ctx, int *dirfd, name_arg *path, int64_t *flags, int64_t *mode, int64_t *resolve) {
  return arg_fd(ctx, 0, "dirfd", true, dirfd) && arg_name(ctx, 1, "path", path) &&
         arg_int64(ctx, 2, "flags", 0, INT32_MAX, flags) && arg_int64(ctx, 3, "mode", 0, 07777, mode) &&
         arg_int64(ctx, 4, "resolve", 0, RESOLVE_KNOWN, resolve);
}

napi_value js_openat2(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg path;
  int64_t flags, mode, resolve;
  if (!ctx_init(&ctx, env, info, "openat2", 5) || !open_args(&ctx, &dirfd, &path, &flags, &mode, &resolve))
    return NULL;
  struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC, .mode = (uint64_t)mode, .resolve = (uint64_t)resolve};
  /* openat2 refuses a mode without O_CREAT/O_TMPFILE; open(2) ignores it. */
  if ((flags & O_CREAT) == 0 && (flags & __O_TMPFILE) != __O_TMPFILE) how.mode = 0;
  long fd = syscall(SYS_openat2, dirfd, path.bytes, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) {
    int r = open_beneath_walk(dirfd, path.bytes, (int)flags, (mode_t)how.mode);
    if (r < 0) return throw_errno(env, -r, "openat2");
    return make_int(env, r);
  }
  if (fd < 0) return throw_errno(env, errno, "openat2");
  return make_int(env, fd);
}

/* The walk on its own, so tests can hold it to openat2's answers on any kernel. */
napi_value js_open_beneath_walk(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg path;
  int64_t flags, mode, resolve;
  if (!ctx_init(&ctx, env, info, "openat2", 5) || !open_args(&ctx, &dirfd, &path, &flags, &mode, &resolve))
    return NULL;
  int r = open_beneath_walk(dirfd, path.bytes, (int)flags, (mode_t)mode);
  if (r < 0) return throw_errno(env, -r, "openat2");
  return make_int(env, r);
}

static napi_value stat_object(napi_env env, const struct stat *st) {
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) return NULL;
  bool ok = set_named(env, o, "dev", make_bigint_u(env, st->st_dev)) &&
            set_named(env, o, "ino", make_bigint_u(env, st->st_ino)) &&
            set_named(env, o, "mode", make_int(env, st->st_mode)) &&
            set_named(env, o, "nlink", make_int(env, (int64_t)st->st_nlink)) &&
            set_named(env, o, "uid", make_int(env, st->st_uid)) &&
            set_named(env, o, "gid", make_int(env, st->st_gid)) &&
            set_named(env, o, "rdev", make_bigint_u(env, st->st_rdev)) &&
            set_named(env, o, "size", make_bigint_s(env, st->st_size)) &&
            set_named(env, o, "blocks", make_bigint_s(env, st->st_blocks)) &&
            set_named(env, o, "blksize", make_int(env, st->st_blksize)) &&
            set_named(env, o, "atimeNs", make_bigint_s(env, (int64_t)st->st_atim.tv_sec * 1000000000 + st->st_atim.tv_nsec)) &&
            set_named(env, o, "mtimeNs", make_bigint_s(env, (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec)) &&
            set_named(env, o, "ctimeNs", make_bigint_s(env, (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec));
  return ok ? o : NULL;
}

napi_value js_fstatat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "fstatat", 3) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) ||
      !arg_int64(&ctx, 2, "flags", 0, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT, &flags))
    return NULL;
  struct stat st;
  if (fstatat(dirfd, name.bytes, &st, (int)flags) < 0) return throw_errno(env, errno, "fstatat");
  return stat_object(env, &st);
}

bool arg_statx_out(call_ctx *ctx, size_t i, size_t min_length, int64_t **data, size_t *length) {
  napi_env env = ctx->env;
  bool is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  void *p = NULL;
  *length = 0;
  if (i >= ctx->argc || napi_is_typedarray(env, ctx->argv[i], &is_typed) != napi_ok) return false;
  if (is_typed && napi_get_typedarray_info(env, ctx->argv[i], &type, length, &p, NULL, NULL) != napi_ok) return false;
  if (!is_typed || (type != napi_bigint64_array && type != napi_biguint64_array)) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "out", "an instance of BigInt64Array or BigUint64Array");
    return false;
  }
  if (*length < min_length) {
    char what[64];
    snprintf(what, sizeof what, "at least %zu elements long", min_length);
    throw_arg_error(env, true, "ERR_OUT_OF_RANGE", ctx->syscall, "out", what);
    return false;
  }
  if (p == NULL && min_length > 0) {
    throw_errno(env, EFAULT, ctx->syscall); /* detached */
    return false;
  }
  *data = (int64_t *)p;
  return true;
}

/* One statx result as the STATX_SLOTS 64-bit values statxInto documents. */
void statx_slots(const struct statx *stx, int64_t *out) {
  out[0] = (int64_t)makedev(stx->stx_dev_major, stx->stx_dev_minor);
  out[1] = (int64_t)stx->stx_ino;
  out[2] = stx->stx_mode;
  out[3] = stx->stx_nlink;
  out[4] = stx->stx_uid;
  out[5] = stx->stx_gid;
  out[6] = (int64_t)makedev(stx->stx_rdev_major, stx->stx_rdev_minor);
  out[7] = (int64_t)stx->stx_size;
  out[8] = (int64_t)stx->stx_blocks;
  out[9] = stx->stx_atime.tv_sec * 1000000000 + stx->stx_atime.tv_nsec;
  out[10] = stx->stx_mtime.tv_sec * 1000000000 + stx->stx_mtime.tv_nsec;
  out[11] = stx->stx_ctime.tv_sec * 1000000000 + stx->stx_ctime.tv_nsec;
  out[12] = (stx->stx_mask & STATX_BTIME) ? stx->stx_btime.tv_sec * 1000000000 + stx->stx_btime.tv_nsec : 0;
}

/* statxInto(dirfd, name, flags, out): statx of `name` beneath `dirfd` (or of
 * dirfd itself with AT_EMPTY_PATH and ''), written as 64-bit values into
 * `out`, a BigInt64Array or BigUint64Array of at least STATX_SLOTS: dev, ino,
 * mode, nlink, uid, gid, rdev, size, blocks, then atime, mtime, ctime and
 * birth time in nanoseconds since the epoch (birth 0 where the file system
 * keeps none). No object is made per call, and the birth time comes in the
 * same call. Returns true, or false for ENOENT (a name gone since it was
 * listed is an expected answer, not worth an Error); other failures throw. */
napi_value js_statx_into(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "statx", 4) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) ||
      !arg_int64(&ctx, 2, "flags", 0, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT, &flags))
    return NULL;
  int64_t *data;
  size_t length;
  if (!arg_statx_out(&ctx, 3, STATX_SLOTS, &data, &length)) return NULL;
  struct statx stx;
  if (statx(dirfd, name.bytes, (int)flags | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &stx) < 0) {
    if (errno == ENOENT) return make_bool(env, false);
    return throw_errno(env, errno, "statx");
  }
  statx_slots(&stx, data);
  return make_bool(env, true);
}

napi_value js_fstat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  if (!ctx_init(&ctx, env, info, "fstat", 1) || !arg_fd(&ctx, 0, "fd", false, &fd)) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0) return throw_errno(env, errno, "fstat");
  return stat_object(env, &st);
}

napi_value js_fchownat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t uid, gid, flags;
  if (!ctx_init(&ctx, env, info, "fchownat", 5) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_int64(&ctx, 2, "uid", -1, UINT32_MAX - 1, &uid) ||
      !arg_int64(&ctx, 3, "gid", -1, UINT32_MAX - 1, &gid) ||
      !arg_int64(&ctx, 4, "flags", 0, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, &flags))
    return NULL;
  if (fchownat(dirfd, name.bytes, (uid_t)uid, (gid_t)gid, (int)flags) < 0) return throw_errno(env, errno, "fchownat");
  return make_undefined(env);
}

napi_value js_fchmod(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  int64_t mode;
  if (!ctx_init(&ctx, env, info, "fchmod", 2) || !arg_fd(&ctx, 0, "fd", false, &fd) ||
      !arg_int64(&ctx, 1, "mode", 0, 07777, &mode))
    return NULL;
  if (fchmod(fd, (mode_t)mode) < 0) return throw_errno(env, errno, "fchmod");
  return make_undefined(env);
}

napi_value js_fchmodat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t mode, flags;
  if (!ctx_init(&ctx, env, info, "fchmodat", 4) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_int64(&ctx, 2, "mode", 0, 07777, &mode) ||
      !arg_int64(&ctx, 3, "flags", 0, AT_SYMLINK_NOFOLLOW, &flags))
    return NULL;
  int r = fchmodat(dirfd, name.bytes, (mode_t)mode, (int)flags);
  if (r < 0) return throw_errno(env, errno, "fchmodat");
  return make_undefined(env);
}

static bool arg_timespec(call_ctx *ctx, size_t i, const char *sec_name, const char *nsec_name, struct timespec *ts) {
  int64_t sec, nsec;
  if (!arg_int64(ctx, i, sec_name, -(INT64_C(1) << 53), INT64_C(1) << 53, &sec) ||
      !arg_int64(ctx, i + 1, nsec_name, 0, UTIME_NOW > UTIME_OMIT ? UTIME_NOW : UTIME_OMIT, &nsec))
    return false;
  if (nsec > 999999999 && nsec != UTIME_NOW && nsec != UTIME_OMIT) {
    throw_arg_error(ctx->env, true, "ERR_OUT_OF_RANGE", ctx->syscall, nsec_name, "0..999999999, UTIME_NOW or UTIME_OMIT");
    return false;
  }
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)nsec;
  return true;
}

napi_value js_utimensat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  struct timespec times[2];
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "utimensat", 7) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_timespec(&ctx, 2, "atimeSec", "atimeNsec", &times[0]) ||
      !arg_timespec(&ctx, 4, "mtimeSec", "mtimeNsec", &times[1]) ||
      !arg_int64(&ctx, 6, "flags", 0, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, &flags))
    return NULL;
  if (syscall(SYS_utimensat, dirfd, name.bytes, times, (int)flags) < 0) return throw_errno(env, errno, "utimensat");
  return make_undefined(env);
}

napi_value js_mkdirat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t mode;
  if (!ctx_init(&ctx, env, info, "mkdirat", 3) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_int64(&ctx, 2, "mode", 0, 07777, &mode))
    return NULL;
  if (mkdirat(dirfd, name.bytes, (mode_t)mode) < 0) return throw_errno(env, errno, "mkdirat");
  return make_undefined(env);
}

napi_value js_mknodat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t mode, major_n, minor_n;
  if (!ctx_init(&ctx, env, info, "mknodat", 5) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_int64(&ctx, 2, "mode", 0, S_IFMT | 07777, &mode) ||
      !arg_int64(&ctx, 3, "major", 0, 0xfff, &major_n) || !arg_int64(&ctx, 4, "minor", 0, 0xfffff, &minor_n))
    return NULL;
  if (mknodat(dirfd, name.bytes, (mode_t)mode, makedev((unsigned)major_n, (unsigned)minor_n)) < 0)
    return throw_errno(env, errno, "mknodat");
  return make_undefined(env);
}

napi_value js_mkfifoat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t mode;
  if (!ctx_init(&ctx, env, info, "mkfifoat", 3) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_int64(&ctx, 2, "mode", 0, 07777, &mode))
    return NULL;
  if (mkfifoat(dirfd, name.bytes, (mode_t)mode) < 0) return throw_errno(env, errno, "mkfifoat");
  return make_undefined(env);
}

napi_value js_linkat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int olddirfd, newdirfd;
  name_arg oldname, newname;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "linkat", 5) || !arg_fd(&ctx, 0, "olddirfd", true, &olddirfd) ||
      !arg_name(&ctx, 1, "oldname", &oldname) || !arg_fd(&ctx, 2, "newdirfd", true, &newdirfd) ||
      !arg_name(&ctx, 3, "newname", &newname) ||
      !arg_int64(&ctx, 4, "flags", 0, AT_SYMLINK_FOLLOW | AT_EMPTY_PATH, &flags))
    return NULL;
  if (linkat(olddirfd, oldname.bytes, newdirfd, newname.bytes, (int)flags) < 0) return throw_errno(env, errno, "linkat");
  return make_undefined(env);
}

napi_value js_symlinkat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg target, name;
  if (!ctx_init(&ctx, env, info, "symlinkat", 3) || !arg_name(&ctx, 0, "target", &target) ||
      !arg_fd(&ctx, 1, "dirfd", true, &dirfd) || !arg_name(&ctx, 2, "name", &name))
    return NULL;
  if (symlinkat(target.bytes, dirfd, name.bytes) < 0) return throw_errno(env, errno, "symlinkat");
  return make_undefined(env);
}

napi_value js_readlinkat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  if (!ctx_init(&ctx, env, info, "readlinkat", 2) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name))
    return NULL;
  char target[PATH_MAX];
  ssize_t n = readlinkat(dirfd, name.bytes, target, sizeof target);
  if (n < 0) return throw_errno(env, errno, "readlinkat");
  /* A target filling the whole buffer may have been cut: symlink targets are below PATH_MAX. */
  if ((size_t)n == sizeof target) return throw_errno(env, ENAMETOOLONG, "readlinkat");
  napi_value buffer;
  if (napi_create_buffer_copy(env, (size_t)n, target, NULL, &buffer) != napi_ok) return NULL;
  return buffer;
}

napi_value js_renameat2(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int olddirfd, newdirfd;
  name_arg oldname, newname;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "renameat2", 5) || !arg_fd(&ctx, 0, "olddirfd", true, &olddirfd) ||
      !arg_name(&ctx, 1, "oldname", &oldname) || !arg_fd(&ctx, 2, "newdirfd", true, &newdirfd) ||
      !arg_name(&ctx, 3, "newname", &newname) ||
      !arg_int64(&ctx, 4, "flags", 0, RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT, &flags))
    return NULL;
  if (syscall(SYS_renameat2, olddirfd, oldname.bytes, newdirfd, newname.bytes, (unsigned)flags) < 0)
    return throw_errno(env, errno, "renameat2");
  return make_undefined(env);
}

napi_value js_unlinkat(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  name_arg name;
  int64_t flags;
  if (!ctx_init(&ctx, env, info, "unlinkat", 3) || !arg_fd(&ctx, 0, "dirfd", true, &dirfd) ||
      !arg_name(&ctx, 1, "name", &name) || !arg_int64(&ctx, 2, "flags", 0, AT_REMOVEDIR, &flags))
    return NULL;
  if (unlinkat(dirfd, name.bytes, (int)flags) < 0) return throw_errno(env, errno, "unlinkat");
  return make_undefined(env);
}

napi_value js_ftruncate(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  int64_t length;
  if (!ctx_init(&ctx, env, info, "ftruncate", 2) || !arg_fd(&ctx, 0, "fd", false, &fd) ||
      !arg_bigint64(&ctx, 1, "length", 0, INT64_MAX, &length))
    return NULL;
  if (ftruncate(fd, (off_t)length) < 0) return throw_errno(env, errno, "ftruncate");
  return make_undefined(env);
}
