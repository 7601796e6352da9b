#ifndef NETBOOT_PWRITE_SYNC_H
#define NETBOOT_PWRITE_SYNC_H
#include "napi-util.h"

napi_value js_pwrite_sync(napi_env env, napi_callback_info info);
#endif
