#ifndef NETBOOT_ICMP_ECHO_H
#define NETBOOT_ICMP_ECHO_H
#include "napi-util.h"
napi_value js_icmp_echo(napi_env env, napi_callback_info info);
#endif
