#ifndef NETBOOT_STREAM_SEND_H
#define NETBOOT_STREAM_SEND_H
#include "napi-util.h"
napi_value js_send_nowait(napi_env env, napi_callback_info info);
napi_value js_send_file_nowait(napi_env env, napi_callback_info info);
napi_value js_send_read_nowait(napi_env env, napi_callback_info info);
#endif
