import { PortmapClient, PortmapServer } from '@netboot/portmap';

// A portmapper of our own on a free port (a real one listens on 111).
const portmapper = new PortmapServer({ log: () => {} });
const port = await portmapper.listen({ host: '127.0.0.1', port: 0 });

const pm = await PortmapClient.connect({ port }); // 127.0.0.1 over TCP (transport: 'udp' too)
await pm.registerService(100005, [1, 3], 20048); // SET on TCP and UDP, replacing stale entries
console.log(`MOUNT v3 over UDP is on port ${await pm.getport(100005, 3, 'udp')}`); // 0 when not registered
await pm.unregisterService(100005, [1, 3]);

pm.close();
await portmapper.close();
