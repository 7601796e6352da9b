#ifndef NETBOOT_SOCKETS_H
#define NETBOOT_SOCKETS_H
#include "napi-util.h"
napi_value js_bind_to_device(napi_env env, napi_callback_info info);
napi_value js_receive_buffer_force(napi_env env, napi_callback_info info);
napi_value js_receive_low_water(napi_env env, napi_callback_info info);
napi_value js_set_send_buffer(napi_env env, napi_callback_info info);
napi_value js_send_buffer_size(napi_env env, napi_callback_info info);
napi_value js_sendfile(napi_env env, napi_callback_info info);
#endif
