#ifndef NETBOOT_SYNC_FS_H
#define NETBOOT_SYNC_FS_H
#include "napi-util.h"

napi_value js_syncfs(napi_env env, napi_callback_info info);
#endif
