/* What the page cache holds of a file, and advice about what it should hold:
 * a test makes a file cold and checks that it is; a tool sees what a server's
 * files cost to send (cached bytes cost microseconds, others wait for the disk).
 *
 * The count comes from mincore(2) over a transient read-only mapping of the
 * range, never touched, so nothing is faulted in. mincore counts a page only
 * once it is up to date, so pages still being read in by readahead count as
 * missing (cachestat(2) would count them, and a send of them would wait for
 * the disk). The kernel answers truthfully only to a caller that owns the
 * file or may write it (root does); to others it says every page is cached. */
#define _GNU_SOURCE
#include "page-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages mapped and asked about per mincore call: the answer vector lives on the stack. */
#define PROBE_PAGES 4096

/* How many pages of [offset, offset + length) of the regular file `fd` the
 * range spans (clipped at the end of the file) and how many of them the page
 * cache holds up to date. Returns 0, or an errno (`*syscall` names the call). */
static int page_cache_count(int fd, int64_t offset, int64_t length, int64_t *pages, int64_t *cached, const char **syscall) {
  *pages = 0;
  *cached = 0;
  *syscall = "fstat";
  struct stat st;
  if (fstat(fd, &st) < 0) return errno;
  if (!S_ISREG(st.st_mode)) return EINVAL;
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) page = 4096;
  if (offset < 0 || length < 0 || length > INT64_MAX - offset) return EINVAL;
  int64_t end = offset + length < (int64_t)st.st_size ? offset + length : (int64_t)st.st_size;
  if (offset >= end) return 0;
  int64_t last = (end - 1) / page;
  unsigned char vec[PROBE_PAGES];
  for (int64_t at = offset / page; at <= last;) {
    int64_t n = last - at + 1 < PROBE_PAGES ? last - at + 1 : PROBE_PAGES;
    size_t span = (size_t)n * (size_t)page;
    *syscall = "mmap";
    void *map = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, (off_t)(at * page));
    if (map == MAP_FAILED) return errno;
    *syscall = "mincore";
    int err = mincore(map, span, vec) < 0 ? errno : 0;
    munmap(map, span);
    if (err != 0) return err;
    for (int64_t i = 0; i < n; i++) *cached += vec[i] & 1;
    *pages += n;
    at += n;
  }
  return 0;
}

/* cachedPages(fd, offset, length): { pages, cached }. */
napi_value js_cached_pages(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  int64_t offset, length;
  if (!ctx_init(&ctx, env, info, "mincore", 3) || !arg_fd(&ctx, 0, "fd", false, &fd) ||
      !arg_bigint64(&ctx, 1, "offset", 0, INT64_MAX, &offset) || !arg_bigint64(&ctx, 2, "length", 0, INT64_MAX - offset, &length))
    return NULL;
  int64_t pages, cached;
  const char *syscall;
  int err = page_cache_count(fd, offset, length, &pages, &cached, &syscall);
  if (err != 0) return throw_errno(env, err, syscall);
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  if (!set_named(env, result, "pages", make_int(env, pages)) || !set_named(env, result, "cached", make_int(env, cached))) return NULL;
  return result;
}

/* fadvise(fd, offset, length, advice): posix_fadvise, which reports its error as its result, not in errno. */
napi_value js_fadvise(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  int fd;
  int64_t offset, length, advice;
  if (!ctx_init(&ctx, env, info, "posix_fadvise", 4) || !arg_fd(&ctx, 0, "fd", false, &fd) ||
      !arg_bigint64(&ctx, 1, "offset", 0, INT64_MAX, &offset) ||
      !arg_bigint64(&ctx, 2, "length", 0, INT64_MAX - offset, &length) || !arg_int64(&ctx, 3, "advice", 0, 255, &advice))
    return NULL;
  if (advice != POSIX_FADV_NORMAL && advice != POSIX_FADV_RANDOM && advice != POSIX_FADV_SEQUENTIAL &&
      advice != POSIX_FADV_WILLNEED && advice != POSIX_FADV_DONTNEED && advice != POSIX_FADV_NOREUSE)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "posix_fadvise", "advice", "one of the POSIX_FADV_* constants");
  int err = posix_fadvise(fd, (off_t)offset, (off_t)length, (int)advice);
  if (err != 0) return throw_errno(env, err, "posix_fadvise");
  return make_undefined(env);
}
