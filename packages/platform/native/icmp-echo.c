/* One ICMP echo request and the wait for its reply, for dhcpd's ping check
 * before offering an address. An unprivileged ping socket (SOCK_DGRAM,
 * IPPROTO_ICMP: allowed by net.ipv4.ping_group_range) first, a raw socket
 * (root) otherwise. It runs on libuv's pool: the wait is bounded by the
 * caller's timeout, capped at ICMP_TIMEOUT_MAX_MS. Reply bytes are only
 * compared (type, id, sequence), never parsed further. */
#define _GNU_SOURCE
#include "icmp-echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ICMP_TIMEOUT_MAX_MS 60000

typedef struct {
  struct in_addr address;
  int timeout_ms;
  int err;        /* errno when no socket could be had */
  bool answered;
  napi_deferred deferred;
  napi_async_work work;
} echo_job;

static uint16_t checksum(const uint8_t *p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void echo_execute(napi_env env, void *data) {
  (void)env;
  echo_job *job = data;
  bool raw = false;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EPROTONOSUPPORT)) {
    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    raw = true;
  }
  if (fd < 0) {
    job->err = errno;
    return;
  }
  uint16_t id = (uint16_t)(getpid() ^ (uintptr_t)job);
  uint16_t seq = 1;
  uint8_t packet[16] = {ICMP_ECHO, 0, 0, 0, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(seq >> 8), (uint8_t)seq,
                        'n', 'e', 't', 'b', 'o', 'o', 't', 0};
  uint16_t sum = checksum(packet, sizeof packet);
  packet[2] = (uint8_t)(sum >> 8);
  packet[3] = (uint8_t)sum;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = job->address};
  if (sendto(fd, packet, sizeof packet, 0, (struct sockaddr *)&to, sizeof to) < 0) {
    /* Unreachable from here: nobody answers, which is the question asked. */
    close(fd);
    return;
  }
  if (!raw) {
    /* The kernel rewrites the id of a ping socket to its own port. */
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &len) == 0) id = ntohs(local.sin_port);
  }
  int64_t deadline = now_ms() + job->timeout_ms;
  uint8_t reply[1500];
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) break;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, reply, sizeof reply, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
    if (n < 0) continue;
    if (from.sin_addr.s_addr != job->address.s_addr) continue;
    size_t at = 0;
    if (raw) {
      /* A raw socket hands over the IP header too: skip its IHL words. */
      if (n < 1) continue;
      at = (size_t)(reply[0] & 0x0f) * 4;
    }
    if ((size_t)n < at + 8) continue;
    const uint8_t *icmp = reply + at;
    if (icmp[0] != ICMP_ECHOREPLY) continue;
    if ((uint16_t)(icmp[4] << 8 | icmp[5]) != id || (uint16_t)(icmp[6] << 8 | icmp[7]) != seq) continue;
    job->answered = true;
    break;
  }
  close(fd);
}

static void echo_complete(napi_env env, napi_status status, void *data) {
  echo_job *job = data;
  if (status != napi_ok)
    napi_reject_deferred(env, job->deferred, errno_error(env, ECANCELED, "icmpEcho"));
  else if (job->err != 0)
    napi_reject_deferred(env, job->deferred, errno_error(env, job->err, "socket"));
  else
    napi_resolve_deferred(env, job->deferred, make_bool(env, job->answered));
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value js_icmp_echo(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  char address[INET_ADDRSTRLEN];
  int64_t timeout;
  if (!ctx_init(&ctx, env, info, "icmpEcho", 2) || !arg_string(&ctx, 0, "address", address, sizeof address) ||
      !arg_int64(&ctx, 1, "timeoutMs", 1, ICMP_TIMEOUT_MAX_MS, &timeout))
    return NULL;
  struct in_addr parsed;
  if (inet_pton(AF_INET, address, &parsed) != 1)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_VALUE", "icmpEcho", "address", "a dotted IPv4 address");
  echo_job *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "icmpEcho");
  job->address = parsed;
  job->timeout_ms = (int)timeout;
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "icmpEcho", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, echo_execute, echo_complete, job, &job->work) != napi_ok) {
    free(job);
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    return NULL;
  }
  return promise;
}
