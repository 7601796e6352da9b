/* The addon's exports: each syscall wrapper by name, and the constants the
 * callers pass, taken from this machine's headers rather than hard-coded. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "dir-batch.h"
#include "fs-calls.h"
#include "icmp-echo.h"
#include "interfaces.h"
#include "napi-util.h"
#include "ofd-locks.h"
#include "page-cache.h"
#include "pread-nowait.h"
#include "pwrite-sync.h"
#include "sendfile-all.h"
#include "sockets.h"
#include "sync-fs.h"
#include "xattrs.h"
#include <sys/xattr.h>
#include "udp-batch.h"
#include "socket-handoff.h"
#include "stream-send.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#define RENAME_WHITEOUT (1 << 2)
#endif

typedef struct {
  const char *name;
  napi_callback fn;
} export_fn;

static const export_fn functions[] = {
    {"openat2", js_openat2},
    {"openBeneathWalk", js_open_beneath_walk},
    {"fstatat", js_fstatat},
    {"statxInto", js_statx_into},
    {"fstat", js_fstat},
    {"fchownat", js_fchownat},
    {"fchmod", js_fchmod},
    {"fchmodat", js_fchmodat},
    {"utimensat", js_utimensat},
    {"mkdirat", js_mkdirat},
    {"mknodat", js_mknodat},
    {"mkfifoat", js_mkfifoat},
    {"linkat", js_linkat},
    {"symlinkat", js_symlinkat},
    {"readlinkat", js_readlinkat},
    {"renameat2", js_renameat2},
    {"unlinkat", js_unlinkat},
    {"readdir", js_readdir},
    {"readdirNames", js_readdir_names},
    {"statxNamesInto", js_statx_names_into},
    {"ftruncate", js_ftruncate},
    {"preadNowait", js_pread_nowait},
    {"pwriteSync", js_pwrite_sync},
    {"cachedPages", js_cached_pages},
    {"fadvise", js_fadvise},
    {"lsetxattr", js_lsetxattr},
    {"fsetxattr", js_fsetxattr},
    {"lgetxattr", js_lgetxattr},
    {"fgetxattr", js_fgetxattr},
    {"llistxattr", js_llistxattr},
    {"flistxattr", js_flistxattr},
    {"syncfs", js_syncfs},
    {"ofdSetLock", js_ofd_set_lock},
    {"ofdGetLock", js_ofd_get_lock},
    {"ofdSetLockWait", js_ofd_set_lock_wait},
    {"bindToDevice", js_bind_to_device},
    {"receiveBufferForce", js_receive_buffer_force},
    {"receiveLowWater", js_receive_low_water},
    {"setSendBuffer", js_set_send_buffer},
    {"sendBufferSize", js_send_buffer_size},
    {"sendfile", js_sendfile},
    {"sendNowait", js_send_nowait},
    {"sendFileNowait", js_send_file_nowait},
    {"sendReadNowait", js_send_read_nowait},
    {"dupSocket", js_dup_socket},
    {"sendfileAll", js_sendfile_all},
    {"icmpEcho", js_icmp_echo},
    {"interfaceAddresses", js_interface_addresses},
};

#define C(name) {#name, name}
static const struct {
  const char *name;
  int value;
} constants[] = {
    C(O_PATH), C(O_NOFOLLOW), C(O_DIRECTORY), C(O_CLOEXEC), C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_CREAT),
    C(O_EXCL), C(O_TRUNC), C(O_NONBLOCK), C(O_APPEND),
    C(RESOLVE_BENEATH), C(RESOLVE_NO_SYMLINKS), C(RESOLVE_NO_MAGICLINKS), C(RESOLVE_NO_XDEV), C(RESOLVE_IN_ROOT),
    C(AT_FDCWD), C(AT_SYMLINK_NOFOLLOW), C(AT_EMPTY_PATH), C(AT_REMOVEDIR), C(AT_SYMLINK_FOLLOW),
    C(UTIME_NOW), C(UTIME_OMIT),
    C(RENAME_NOREPLACE), C(RENAME_EXCHANGE), C(RENAME_WHITEOUT),
    C(F_RDLCK), C(F_WRLCK), C(F_UNLCK),
    C(POSIX_FADV_NORMAL), C(POSIX_FADV_RANDOM), C(POSIX_FADV_SEQUENTIAL), C(POSIX_FADV_WILLNEED), C(POSIX_FADV_DONTNEED), C(POSIX_FADV_NOREUSE),
    C(XATTR_CREATE), C(XATTR_REPLACE),
    C(RWF_DSYNC), C(RWF_SYNC),
    C(S_IFMT), C(S_IFREG), C(S_IFDIR), C(S_IFLNK), C(S_IFCHR), C(S_IFBLK), C(S_IFIFO), C(S_IFSOCK),
};
#undef C

static napi_value init(napi_env env, napi_value exports) {
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, functions[i].name, fn) != napi_ok)
      return NULL;
  }
  napi_value table;
  if (napi_create_object(env, &table) != napi_ok) return NULL;
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
    if (!set_named(env, table, constants[i].name, make_int(env, constants[i].value))) return NULL;
  if (!set_named(env, exports, "constants", table)) return NULL;
  if (!udp_batch_register(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
