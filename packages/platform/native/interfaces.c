/* The IPv4 addresses of every interface, from getifaddrs without the
 * filter Node's os.networkInterfaces() applies (libuv drops interfaces that
 * are not up and running): a DHCP server must start on a tap whose VM has
 * not started yet, or a port whose cable is not plugged in. */
#define _GNU_SOURCE
#include "interfaces.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

static napi_value address_entry(napi_env env, const struct ifaddrs *ifa) {
  char address[INET_ADDRSTRLEN] = "", netmask[INET_ADDRSTRLEN] = "0.0.0.0";
  inet_ntop(AF_INET, &((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr, address, sizeof address);
  if (ifa->ifa_netmask != NULL)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ifa->ifa_netmask)->sin_addr, netmask, sizeof netmask);
  napi_value entry, v;
  if (napi_create_object(env, &entry) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &v) != napi_ok || !set_named(env, entry, "address", v))
    return NULL;
  if (napi_create_string_utf8(env, netmask, NAPI_AUTO_LENGTH, &v) != napi_ok || !set_named(env, entry, "netmask", v))
    return NULL;
  if (!set_named(env, entry, "up", make_bool(env, (ifa->ifa_flags & IFF_UP) != 0))) return NULL;
  return entry;
}

napi_value js_interface_addresses(napi_env env, napi_callback_info info) {
  (void)info;
  struct ifaddrs *list;
  if (getifaddrs(&list) < 0) return throw_errno(env, errno, "getifaddrs");
  napi_value result;
  napi_value ok = NULL;
  if (napi_create_object(env, &result) != napi_ok) goto done;
  for (struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == NULL) continue;
    napi_value array;
    bool has = false;
    if (napi_has_named_property(env, result, ifa->ifa_name, &has) != napi_ok) goto done;
    if (has) {
      if (napi_get_named_property(env, result, ifa->ifa_name, &array) != napi_ok) goto done;
    } else if (napi_create_array(env, &array) != napi_ok || napi_set_named_property(env, result, ifa->ifa_name, array) != napi_ok) {
      goto done;
    }
    if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != AF_INET) continue;
    uint32_t length;
    napi_value entry = address_entry(env, ifa);
    if (entry == NULL || napi_get_array_length(env, array, &length) != napi_ok ||
        napi_set_element(env, array, length, entry) != napi_ok)
      goto done;
  }
  ok = result;
done:
  freeifaddrs(list);
  return ok;
}
