import { native, udpAddress } from '@netboot/platform';

if (native) {
  const n = native;
  const slotBytes = 1500;
  let received = 0;
  const socket = n.udpOpen('127.0.0.1', 0, n.constants.UDP_REUSEADDR, '', 1 << 20, 32, slotBytes, {
    onBatch(count, slab, lengths, addresses) {
      for (let i = 0; i < count; i++) {
        if (lengths[i] < 0) continue; // longer than a slot, cut short: dropped
        const datagram = slab.subarray(i * slotBytes, i * slotBytes + lengths[i]); // valid until onBatch returns
        const { address, port } = udpAddress(addresses, i);
        console.log(`${datagram.length} bytes from ${address}:${port}`);
      }
      received += count;
      if (received === 3) n.udpClose(socket);
    },
    onError(error) {
      console.error(error.message); // ECONNREFUSED: an earlier datagram met a closed port
    },
  });
  // Three datagrams end to end in one buffer, one sendmmsg (here to the socket itself).
  const window = Buffer.alloc(3 * 516);
  n.udpSendBatch(socket, window, Int32Array.of(516, 516, 516), 3, '127.0.0.1', n.udpLocalPort(socket));
}
