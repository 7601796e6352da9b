#ifndef NETBOOT_PREAD_NOWAIT_H
#define NETBOOT_PREAD_NOWAIT_H
#include "napi-util.h"

napi_value js_pread_nowait(napi_env env, napi_callback_info info);
#endif
