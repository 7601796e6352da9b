#ifndef NETBOOT_SOCKET_HANDOFF_H
#define NETBOOT_SOCKET_HANDOFF_H
#include "napi-util.h"
napi_value js_dup_socket(napi_env env, napi_callback_info info);
#endif
