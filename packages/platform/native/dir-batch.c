/* A directory's entries and their attributes in batches, for a server that
 * lists a directory and stats every entry of it (an NFS READDIRPLUS):
 * entries (name, inode, type) or names alone as Latin-1 strings (one
 * character a byte: the exact bytes, without a Buffer per name), and one call that stats many names beneath the
 * directory's fd into one array. Only getdents64 and statx: no protocol. */
#define _GNU_SOURCE
#include "dir-batch.h"

#include "fs-calls.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct dirent64_record {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Entries readdir and readdirNames return per call at most. */
#define ENTRIES_MAX 65536
/* Names statxNamesInto takes per call: a reply's worth and more, and the
 * size of `out` it needs stays far from any overflow. */
#define STAT_BATCH_MAX 4096

/* Makes element `index` of `result` from one entry (its name `len` bytes); false: an exception is pending. */
typedef bool (*entry_fn)(napi_env env, const struct dirent64_record *d, size_t len, napi_value result, uint32_t index);

/* The shape both listings share: getdents64 from the fd's offset, every
 * record checked against what the kernel wrote, '.' and '..' skipped, up
 * to `max` entries made by `make`; [] at the end. When `max` entries are
 * taken before the kernel's batch is used up, the offset is set back to
 * the entry after the last one returned, so the next call continues there. */
static napi_value read_entries(napi_env env, napi_callback_info info, entry_fn make) {
  call_ctx ctx;
  int fd;
  int64_t max;
  if (!ctx_init(&ctx, env, info, "getdents64", 2) || !arg_fd(&ctx, 0, "dirfd", false, &fd) ||
      !arg_int64(&ctx, 1, "max", 1, ENTRIES_MAX, &max))
    return NULL;
  napi_value result;
  if (napi_create_array(env, &result) != napi_ok) return NULL;
  uint32_t count = 0;
  /* 32 KiB: about 1000 short names a syscall; aligned for the records. */
  static _Thread_local uint64_t aligned[4096];
  char *buf = (char *)aligned;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof aligned);
    if (n < 0) return throw_errno(env, errno, "getdents64");
    if (n == 0 || (size_t)n > sizeof aligned) return n == 0 ? result : throw_errno(env, EIO, "getdents64");
    for (long pos = 0; pos < n;) {
      struct dirent64_record *d = (struct dirent64_record *)(buf + pos);
      /* A record must hold its header and lie inside what the kernel wrote. */
      if (n - pos < (long)offsetof(struct dirent64_record, d_name) || d->d_reclen <= offsetof(struct dirent64_record, d_name) ||
          d->d_reclen > n - pos)
        return throw_errno(env, EIO, "getdents64");
      pos += d->d_reclen;
      const char *nm = d->d_name;
      size_t len = strnlen(nm, d->d_reclen - offsetof(struct dirent64_record, d_name));
      if ((len == 1 && nm[0] == '.') || (len == 2 && nm[0] == '.' && nm[1] == '.')) continue;
      if (!make(env, d, len, result, count)) return NULL;
      count++;
      if (count == (uint32_t)max) {
        if (pos < n && lseek(fd, d->d_off, SEEK_SET) < 0) return throw_errno(env, errno, "lseek");
        return result;
      }
    }
  }
}

/* [name Buffer, inode bigint, d_type]. */
static bool full_entry(napi_env env, const struct dirent64_record *d, size_t len, napi_value result, uint32_t index) {
  napi_value entry, name, ino, type;
  return napi_create_array_with_length(env, 3, &entry) == napi_ok && napi_create_buffer_copy(env, len, d->d_name, NULL, &name) == napi_ok &&
         napi_create_bigint_uint64(env, d->d_ino, &ino) == napi_ok && napi_create_uint32(env, d->d_type, &type) == napi_ok &&
         napi_set_element(env, entry, 0, name) == napi_ok && napi_set_element(env, entry, 1, ino) == napi_ok &&
         napi_set_element(env, entry, 2, type) == napi_ok && napi_set_element(env, result, index, entry) == napi_ok;
}

/* The name alone, as a Latin-1 string. */
static bool name_entry(napi_env env, const struct dirent64_record *d, size_t len, napi_value result, uint32_t index) {
  napi_value name;
  return napi_create_string_latin1(env, d->d_name, len, &name) == napi_ok && napi_set_element(env, result, index, name) == napi_ok;
}

/* readdir(dirfd, max): entries as [name Buffer, inode, d_type]. */
napi_value js_readdir(napi_env env, napi_callback_info info) { return read_entries(env, info, full_entry); }

/* readdirNames(dirfd, max): names as Latin-1 strings, without a Buffer,
 * bigint or array per entry. */
napi_value js_readdir_names(napi_env env, napi_callback_info info) { return read_entries(env, info, name_entry); }

/* Element i of `names` as one name's bytes in `out` (NAME_MAX + 1): a string
 * of 1..NAME_MAX characters, each a byte (U+0000..U+00FF), no '/' or NUL,
 * never '.' or '..', so statx of it stays in the directory. */
static bool name_at(call_ctx *ctx, napi_value names, uint32_t i, char *out) {
  napi_env env = ctx->env;
  napi_value v;
  napi_valuetype type;
  if (napi_get_element(env, names, i, &v) != napi_ok || napi_typeof(env, v, &type) != napi_ok) return false;
  if (type != napi_string) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "names", "an array of strings");
    return false;
  }
  /* UTF-16 units, so a character above U+00FF is seen (Latin-1 would keep its low byte: U+012F as '/'). */
  char16_t units[NAME_MAX + 2];
  size_t len = 0;
  if (napi_get_value_string_utf16(env, v, units, NAME_MAX + 2, &len) != napi_ok) return false;
  if (len > NAME_MAX) {
    throw_errno(env, ENAMETOOLONG, ctx->syscall);
    return false;
  }
  bool dots = len <= 2 && units[0] == '.' && (len == 1 || units[1] == '.');
  bool bad = len == 0 || dots;
  for (size_t k = 0; k < len && !bad; k++) {
    if (units[k] > 0xff || units[k] == '/' || units[k] == 0) bad = true;
    out[k] = (char)units[k];
  }
  if (bad) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_VALUE", ctx->syscall, "names",
                    "names of 1 to 255 bytes (characters U+0001..U+00FF) without '/', never '.' or '..'");
    return false;
  }
  out[len] = '\0';
  return true;
}

/* statxNamesInto(dirfd, names, from, count, out): statx of names[from ..
 * from + count) beneath dirfd, never following a final symlink, record k at
 * out[k * STATX_SLOTS ..] as statxInto writes one; a name that is gone
 * (ENOENT) leaves an all-zero record (mode 0). Returns how many were found.
 * Any other failure throws, leaving the records before it written. */
napi_value js_statx_names_into(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int dirfd;
  int64_t from, count;
  bool is_array = false;
  uint32_t total = 0;
  if (!ctx_init(&ctx, env, info, "statx", 5) || !arg_fd(&ctx, 0, "dirfd", false, &dirfd)) return NULL;
  if (napi_is_array(env, ctx.argv[1], &is_array) != napi_ok) return NULL;
  if (!is_array) {
    throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "statx", "names", "an array of strings");
    return NULL;
  }
  if (napi_get_array_length(env, ctx.argv[1], &total) != napi_ok) return NULL;
  if (!arg_int64(&ctx, 2, "from", 0, total, &from) || !arg_int64(&ctx, 3, "count", 0, STAT_BATCH_MAX, &count))
    return NULL;
  if (count > (int64_t)total - from) {
    throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "statx", "count", "at most names.length - from");
    return NULL;
  }
  int64_t *out;
  size_t length;
  if (!arg_statx_out(&ctx, 4, (size_t)count * STATX_SLOTS, &out, &length)) return NULL;
  int64_t found = 0;
  char name[NAME_MAX + 1];
  for (int64_t k = 0; k < count; k++) {
    if (!name_at(&ctx, ctx.argv[1], (uint32_t)(from + k), name)) return NULL;
    struct statx stx;
    int64_t *record = out + k * STATX_SLOTS;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &stx) < 0) {
      if (errno != ENOENT) return throw_errno(env, errno, "statx");
      memset(record, 0, STATX_SLOTS * sizeof *record);
      continue;
    }
    statx_slots(&stx, record);
    found++;
  }
  return make_int(env, found);
}
