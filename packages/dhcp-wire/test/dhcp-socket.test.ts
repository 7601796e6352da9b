import t from 'tap';
import { readFileSync } from 'node:fs';
import { openSocket } from '@netboot/dhcp-wire';

/*
 * The server socket has room for a storm's DISCOVERs: it asks the kernel for
 * a 4 MiB receive buffer, which Linux grants up to net.core.rmem_max (and
 * reports doubled, its bookkeeping share included).
 */

t.test('a DHCP server socket asks for a receive buffer of 4 MiB, as much as the kernel allows', async (t) => {
  const socket = await openSocket({ address: '127.0.0.1', port: 0 });
  t.teardown(() => socket.close());
  let rmemMax = 4 * 1024 * 1024;
  try {
    rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    // not Linux: the request is all we can check
  }
  const want = Math.min(4 * 1024 * 1024, rmemMax);
  t.ok(socket.getRecvBufferSize() >= want, `receive buffer ${socket.getRecvBufferSize()} bytes, at least ${want} (net.core.rmem_max ${rmemMax})`);
});
