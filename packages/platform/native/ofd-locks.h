#ifndef NETBOOT_OFD_LOCKS_H
#define NETBOOT_OFD_LOCKS_H
#include "napi-util.h"
napi_value js_ofd_set_lock(napi_env env, napi_callback_info info);
napi_value js_ofd_get_lock(napi_env env, napi_callback_info info);
napi_value js_ofd_set_lock_wait(napi_env env, napi_callback_info info);
#endif
