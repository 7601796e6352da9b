import { BootModel, diagnose } from '@netboot/boot-events';

// The state machine without services: events in (each with its own time), one state per node out.
const model = new BootModel({ timeouts: { mounted: 120_000 } });
const t0 = Date.now();
const mac = '52:54:00:12:34:56';
const ip = '198.18.1.20';
model.apply({ kind: 'dhcp', at: t0, mac, message: 'DISCOVER', arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' });
model.apply({ kind: 'dhcp', at: t0 + 1000, mac, message: 'ACK', ip, hostName: 'node1' });
model.apply({ kind: 'file-request', at: t0 + 2000, protocol: 'tftp', ip, file: 'syslinux.efi' });
model.apply({ kind: 'file-request', at: t0 + 3000, protocol: 'tftp', ip, file: 'vmlinuz' });
model.apply({ kind: 'mount', at: t0 + 9000, ip, op: 'MNT', path: `/diskless/${ip}`, version: 3, ok: true });

const node = model.node(mac)!;
console.log(`${node.name} ${node.firmware} ${node.stage}`); // node1 UEFI mounted
for (const s of node.boot!.stages) console.log(`${s.name} ${s.start - t0}..${s.end === null ? '' : s.end - t0} ms`);

// Two minutes later it has not read its init: tick() makes it lost, and the doctor says why.
model.tick(t0 + 200_000);
console.log(node.stage, diagnose(node, t0 + 200_000).map((d) => d.code)); // lost [ 'stuck-initramfs' ]
