#ifndef NETBOOT_INTERFACES_H
#define NETBOOT_INTERFACES_H
#include "napi-util.h"
#include <net/if.h>
napi_value js_interface_addresses(napi_env env, napi_callback_info info);
#endif
