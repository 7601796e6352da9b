/* A UDP socket owned by native code: datagrams in batches (recvmmsg into a
 * preallocated slab, one JavaScript call per batch) and out in batches
 * (sendmmsg from one buffer). */
#ifndef NETBOOT_UDP_BATCH_H
#define NETBOOT_UDP_BATCH_H
#include "napi-util.h"

/* Adds udpOpen, udpConnect, udpLocalPort, udpSend, udpSendBatch, udpClose
 * and their constants (to exports.constants, which must exist). */
bool udp_batch_register(napi_env env, napi_value exports);
#endif
