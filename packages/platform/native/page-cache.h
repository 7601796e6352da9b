#ifndef NETBOOT_PAGE_CACHE_H
#define NETBOOT_PAGE_CACHE_H

#include "napi-util.h"

napi_value js_cached_pages(napi_env env, napi_callback_info info);
napi_value js_fadvise(napi_env env, napi_callback_info info);

#endif
