#ifndef NETBOOT_DIR_BATCH_H
#define NETBOOT_DIR_BATCH_H
#include "napi-util.h"

napi_value js_readdir(napi_env env, napi_callback_info info);
napi_value js_readdir_names(napi_env env, napi_callback_info info);
napi_value js_statx_names_into(napi_env env, napi_callback_info info);
#endif
