#ifndef NETBOOT_PAGE_CACHE_H
#define NETBOOT_PAGE_CACHE_H

#include "napi-util.h"

/* How many pages of [offset, offset + length) of the regular file `fd` the
 * range spans (clipped at the end of the file) and how many of them the page
 * cache holds up to date. Returns 0, or an errno (`*syscall` names the call). */
int page_cache_count(int fd, int64_t offset, int64_t length, int64_t *pages, int64_t *cached, const char **syscall);

napi_value js_cached_pages(napi_env env, napi_callback_info info);
napi_value js_fadvise(napi_env env, napi_callback_info info);

#endif
