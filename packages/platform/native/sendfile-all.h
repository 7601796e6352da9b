#ifndef NETBOOT_SENDFILE_ALL_H
#define NETBOOT_SENDFILE_ALL_H

#include "napi-util.h"

napi_value js_sendfile_all(napi_env env, napi_callback_info info);

#endif
