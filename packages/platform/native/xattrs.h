#ifndef NETBOOT_XATTRS_H
#define NETBOOT_XATTRS_H
#include "napi-util.h"

napi_value js_lsetxattr(napi_env env, napi_callback_info info);
napi_value js_fsetxattr(napi_env env, napi_callback_info info);
napi_value js_lgetxattr(napi_env env, napi_callback_info info);
napi_value js_fgetxattr(napi_env env, napi_callback_info info);
napi_value js_llistxattr(napi_env env, napi_callback_info info);
napi_value js_flistxattr(napi_env env, napi_callback_info info);
#endif
