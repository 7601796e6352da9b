// The simulated nodes of bench/boot-storm.js: one process drives many, each
// through the path a PXE node takes, with the project's own client packages:
// DHCP DORA with PXE options (relayed: one socket at the relay address, the
// node told apart by chaddr and xid), TFTP of pxelinux.0 and of its config
// (the names pxelinux tries, misses first), kernel and initrd over TFTP or
// HTTP, portmap GETPORT and MOUNT of its own root, then the boot's NFS calls
// replayed against that root. Every byte read is compared with the file it
// should be; a node that fails any stage after its retries is a failed node.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const { formatIpv4, getOption, fieldText } = await import('@netboot/dhcp-wire');
// The relay's socket and the client's BOOTREQUEST, shared with the tests' DHCP child scripts.
const { clientMessage, relayChannel, u32 } = await import('../../test/support/dhcp-relay.mjs');
const { tftpGet, TftpClientError } = await import('@netboot/tftp-wire');
const { MountClient } = await import('@netboot/mountd');
const { NfsClient, noSattr } = await import('@netboot/nfs3');
const { PortmapClient } = await import('@netboot/portmap');

const ROOT_CRED = { flavor: 1, stamp: 0, machine: 'node', uid: 0, gid: 0, gids: [] };
/** PXE's DHCP timeouts (PXE 2.1: 4, 8, 16, 32 s). */
const DHCP_TIMEOUTS = [4000, 8000, 16000, 32000];
/** A PXE ROM or pxelinux gives a transfer this many tries. */
const TRANSFER_TRIES = 3;
const NFS3ERR_JUKEBOX = 10008;
const PXE_VENDOR_CLASS = Buffer.from('PXEClient:Arch:00000:UNDI:002001');

class NodeFailure extends Error {}

/** The relay's channel: every node's DHCP on one socket; a reply is waited for on PXE's schedule, or the node fails. */
async function dhcpChannel(relay, server) {
  const channel = await relayChannel(relay, server);
  return {
    giaddr: channel.giaddr,
    async exchange(msg, accepts) {
      const r = await channel.exchange(msg, DHCP_TIMEOUTS, { accepts, retry: (m, attempt) => (m.secs = attempt * 4) });
      if (!r) throw new NodeFailure(`no DHCP ${accepts.includes(2) ? 'OFFER' : 'ACK'} after ${DHCP_TIMEOUTS.length} tries`);
      return r;
    },
    close: channel.close,
  };
}

function dhcpMessage(node, type, xid, giaddr, extra) {
  const uuid = Buffer.concat([Buffer.from([0]), Buffer.alloc(10), node.macBytes]);
  return clientMessage(
    type,
    node.macBytes,
    giaddr,
    [
      ...extra,
      { code: 57, data: Buffer.from([0x04, 0xec]) },
      { code: 55, data: Buffer.from([1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]) },
      { code: 97, data: uuid },
      { code: 94, data: Buffer.from([1, 2, 1]) },
      { code: 93, data: Buffer.from([0, 0]) },
      { code: 60, data: PXE_VENDOR_CLASS },
    ],
    { xid },
  );
}

/** DORA attempts: a DHCPNAK sends the node back to DISCOVER (RFC 2131 4.4.1), as a PXE ROM does. */
const DORA_TRIES = 4;

async function dhcp(node, channel, xidBase) {
  let retries = 0;
  for (let attempt = 0; ; attempt++) {
    const xid = (xidBase + node.index * DORA_TRIES + attempt) >>> 0;
    const offer = await channel.exchange(dhcpMessage(node, 1, xid, channel.giaddr, []), [2]);
    const sid = getOption(offer.reply, 54);
    if (!sid) throw new NodeFailure('OFFER without a server identifier');
    const request = dhcpMessage(node, 3, xid, channel.giaddr, [
      { code: 50, data: u32(offer.reply.yiaddr) },
      { code: 54, data: Buffer.from(sid) },
    ]);
    const ack = await channel.exchange(request, [5, 6]);
    retries += offer.retries + ack.retries;
    if (getOption(ack.reply, 53)[0] === 5) return lease(ack.reply, sid, retries);
    // RFC 2131 4.4.1: after a DHCPNAK the client starts over with DISCOVER (seen from dnsmasq in a storm of 200).
    if (attempt + 1 >= DORA_TRIES) throw new NodeFailure(`DHCPNAK ${DORA_TRIES} times`);
    retries++;
  }
}

function lease(ack, sid, retries) {
  const text = (code) => {
    const o = getOption(ack, code);
    return o ? Buffer.from(o).toString().replace(/\0+$/, '') : undefined;
  };
  // A PXE ROM takes the boot file and TFTP server from the header or, where a server sends them so (dnsmasq), options 67 and 66.
  return {
    ip: formatIpv4(ack.yiaddr),
    nextServer: ack.siaddr ? formatIpv4(ack.siaddr) : (text(66) ?? formatIpv4(Buffer.from(sid).readUInt32BE())),
    file: fieldText(ack.file) || text(67) || '',
    rootPath: text(17),
    retries,
  };
}

/** A TFTP read with the tries a boot ROM gives it; `expected` is what the bytes must be (undefined: a miss is expected to be possible). */
async function tftp(node, host, name, expected, stats) {
  for (let attempt = 1; ; attempt++) {
    const chunks = [];
    let mismatch = false;
    try {
      const r = await tftpGet(name, {
        host,
        port: 69,
        blksize: 1408,
        tsize: true,
        write: (offset, data) => {
          if (expected) mismatch ||= data.compare(expected, offset, offset + data.length) !== 0;
          else chunks.push(Buffer.from(data));
        },
      });
      if (expected && (mismatch || r.bytes !== expected.length)) throw new NodeFailure(`TFTP ${name}: the bytes differ from the file (${r.bytes} of ${expected.length})`);
      return expected ? r.bytes : Buffer.concat(chunks);
    } catch (err) {
      if (err instanceof TftpClientError && err.code === 1) return undefined;
      if (err instanceof NodeFailure || attempt >= TRANSFER_TRIES) throw new NodeFailure(`TFTP ${name}: ${err.message}`);
      stats.tftpRetries++;
    }
  }
}

/** An HTTP GET on the node's keep-alive connection, compared with the file as it streams. */
async function httpGet(host, agent, name, expected, stats) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const req = http.get({ host, port: 80, path: `/${name}`, agent, timeout: 60_000 }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new NodeFailure(`HTTP ${name}: status ${res.statusCode}`));
          }
          let at = 0;
          let mismatch = false;
          res.on('data', (d) => {
            mismatch ||= at + d.length > expected.length || d.compare(expected, at, at + d.length) !== 0;
            at += d.length;
          });
          res.on('end', () =>
            mismatch || at !== expected.length ? reject(new NodeFailure(`HTTP ${name}: the bytes differ from the file (${at} of ${expected.length})`)) : resolve(at),
          );
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
        req.on('error', reject);
      });
    } catch (err) {
      if (err instanceof NodeFailure || attempt >= TRANSFER_TRIES) throw new NodeFailure(`HTTP ${name}: ${err.message}`);
      stats.httpRetries++;
    }
  }
}

/** The config names pxelinux tries: 01-MAC, then the IP in hex shortened a digit at a time, then default. */
function pxelinuxNames(mac, ip) {
  const hex = ip.split('.').map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0')).join('');
  return [`pxelinux.cfg/01-${mac.replaceAll(':', '-')}`, ...Array.from({ length: 8 }, (_, i) => `pxelinux.cfg/${hex.slice(0, 8 - i)}`), 'pxelinux.cfg/default'];
}

/** Runs one NFS call, retrying JUKEBOX as the kernel client does; checks the status it should have. */
async function nfsCall(client, stats, proc, args, want = 0) {
  for (let tries = 0; ; tries++) {
    const r = await client.call(proc, args);
    stats.nfsCalls++;
    if (r.status === NFS3ERR_JUKEBOX && tries < 10) {
      stats.nfsRetries++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (r.status !== want) throw new NodeFailure(`NFS ${proc}: status ${r.status}, expected ${want}`);
    return r;
  }
}

const ZERO_VERF = Buffer.alloc(8);

/** Replays the boot's NFS calls against the node's root `root`. */
async function replay(client, root, boot, stats) {
  const handles = new Map([['', root]]);
  const fh = (p) => {
    const h = handles.get(p);
    if (!h) throw new NodeFailure(`replay: no handle for ${p} (the replay file is inconsistent)`);
    return h;
  };
  const one = async (c) => {
    switch (c.p) {
      case 'LOOKUP': {
        const r = await nfsCall(client, stats, 'LOOKUP', { dir: fh(c.d), name: Buffer.from(c.n) }, c.x ?? 0);
        if (r.status === 0) handles.set(c.d ? `${c.d}/${c.n}` : c.n, Buffer.from(r.object));
        return;
      }
      case 'READ': {
        const r = await nfsCall(client, stats, 'READ', { file: fh(c.f), offset: BigInt(c.o), count: c.c });
        const want = boot.content(c.f);
        const end = Math.min(want.length, c.o + c.c);
        if (r.data.length !== end - c.o || r.data.compare(want, c.o, end) !== 0) throw new NodeFailure(`NFS READ ${c.f} at ${c.o}: the bytes differ from the file`);
        stats.nfsBytes += r.data.length;
        return;
      }
      case 'READDIRPLUS': {
        const seen = new Set();
        let cookie = 0n;
        let cookieverf = ZERO_VERF;
        for (let page = 0; ; page++) {
          if (page > 1000) throw new NodeFailure(`READDIRPLUS ${c.f}: no eof after 1000 pages`);
          const r = await nfsCall(client, stats, 'READDIRPLUS', { dir: fh(c.f), cookie, cookieverf, dircount: 8192, maxcount: 32768 });
          for (const e of r.entries) {
            const name = Buffer.from(e.name).toString();
            seen.add(name);
            // The kernel client fills its dentry cache from READDIRPLUS: later opens of these names send no LOOKUP.
            if (e.handle && name !== '.' && name !== '..') handles.set(c.f ? `${c.f}/${name}` : name, Buffer.from(e.handle));
          }
          if (r.eof || r.entries.length === 0) break;
          cookie = r.entries[r.entries.length - 1].cookie;
          cookieverf = r.cookieverf;
        }
        const missing = boot.children(c.f).filter((n) => !seen.has(n));
        if (missing.length) throw new NodeFailure(`READDIRPLUS ${c.f}: ${missing.length} entries missing (${missing[0]}, ...)`);
        return;
      }
      case 'CREATE': {
        const r = await nfsCall(client, stats, 'CREATE', { where: { dir: fh(c.d), name: Buffer.from(c.n) }, how: { mode: 0, attributes: boot.newFileAttributes } });
        if (!r.object) throw new NodeFailure(`CREATE ${c.n}: no handle returned`);
        handles.set(`${c.d}/${c.n}`, Buffer.from(r.object));
        return;
      }
      case 'WRITE': {
        const r = await nfsCall(client, stats, 'WRITE', { file: fh(c.f), offset: BigInt(c.o), count: c.c, stable: 0, data: boot.writeData.subarray(0, c.c) });
        if (r.count !== c.c) throw new NodeFailure(`WRITE ${c.f}: ${r.count} of ${c.c} bytes written`);
        return;
      }
      case 'COMMIT':
        await nfsCall(client, stats, 'COMMIT', { file: fh(c.f), offset: 0n, count: 0 });
        return;
      case 'ACCESS':
        await nfsCall(client, stats, 'ACCESS', { object: fh(c.f), access: c.a });
        return;
      case 'GETATTR':
      case 'READLINK':
      case 'FSINFO':
      case 'FSSTAT':
      case 'PATHCONF':
        await nfsCall(client, stats, c.p, { object: fh(c.f) }, c.x ?? 0);
        return;
      default:
        throw new NodeFailure(`replay: unknown procedure ${c.p}`);
    }
  };
  for (const step of boot.steps) {
    if (Array.isArray(step)) await Promise.all(step.map(one));
    else await one(step);
  }
}

/** portmap, then MOUNT of `rootPath` and an NFS connection, from `localAddress` when the node has its own address (an export may name it). */
async function mount(host, rootPath, stats, localAddress) {
  const pm = await PortmapClient.connect({ host, port: 111, transport: 'udp', reservedPort: false });
  let mountdPort;
  let nfsPort;
  try {
    mountdPort = await pm.getport(100005, 3, 'tcp');
    nfsPort = await pm.getport(100003, 3, 'tcp');
  } finally {
    pm.close();
  }
  if (!mountdPort || !nfsPort) throw new NodeFailure(`portmap: mountd at ${mountdPort}, nfs at ${nfsPort}`);
  const from = localAddress ? { localAddress } : {};
  const m = await MountClient.connect({ host, port: mountdPort, transport: 'tcp', cred: ROOT_CRED, timeoutMs: 60_000, ...from });
  let root;
  try {
    const r = await m.mnt(rootPath);
    stats.mountCalls++;
    if (r.status !== 0) throw new NodeFailure(`MNT ${rootPath}: status ${r.status}`);
    root = Buffer.from(r.fhandle);
  } finally {
    m.close();
  }
  const client = await NfsClient.connect({ host, port: nfsPort, transport: 'tcp', cred: ROOT_CRED, timeoutMs: 120_000, ...from });
  return { client, root };
}

/** The MOUNT and NFS stages of a node's boot; `held` is given the NFS client (the caller closes it), `staged` each stage's name. */
async function mountAndReplay(node, lease, ctx, stats, mark, up, held, staged = () => {}) {
  const [server, base] = (lease.rootPath ?? '').split(':');
  if (!base) throw new NodeFailure(`DHCP gave root-path "${lease.rootPath}", expected SERVER:/DIR`);
  // A root by MAC (a hard-link farm), or by the node's address (an image-backed root, as add-node names it).
  const mounted = await mount(server, `${base}/${ctx.rootBy === 'ip' ? lease.ip : node.mac.replaceAll(':', '-')}`, stats, node.ip);
  held(mounted.client);
  mark('mount');
  if (ctx.until === 'mount') return up();
  staged('nfs');
  await replay(mounted.client, mounted.root, ctx.boot, stats);
  mark('nfs');
  return up();
}

/**
 * The lease a node starting past DHCP acts on: its fixed address or one of the
 * range's (only pxelinux's config names use it), the boot file and TFTP server
 * every stack gives, and the root-path the stack's DHCP would give.
 */
function assumedLease(node, ctx) {
  const ip = node.ip ?? `198.18.${1 + Math.floor(node.index / 254)}.${1 + (node.index % 254)}`;
  return { ip, nextServer: ctx.server, file: 'pxelinux.0', rootPath: ctx.rootPath, retries: 0 };
}

/** One node's boot; resolves to its record (never rejects). */
async function bootOne(node, ctx) {
  const t0 = performance.now();
  const stages = {};
  const stats = { dhcpRetries: 0, tftpRetries: 0, httpRetries: 0, nfsRetries: 0, nfsCalls: 0, nfsBytes: 0, mountCalls: 0, configMisses: 0 };
  let stage = 'dhcp';
  let at = t0;
  const mark = (name) => {
    const now = performance.now();
    stages[name] = Math.round(now - at);
    at = now;
  };
  let client;
  const up = () => ({ mac: node.mac, http: node.http, ok: true, ms: Math.round(performance.now() - t0), doneAt: performance.now(), stages, ...stats });
  try {
    // From a later stage (ctx.from): the node knows what its DHCP lease would say, and boots from there.
    const lease = ctx.from === 'dhcp' ? await dhcp(node, ctx.channel, ctx.xidBase) : assumedLease(node, ctx);
    if (ctx.from === 'mount') {
      stage = 'mount';
      return await mountAndReplay(node, lease, ctx, stats, mark, up, (c) => (client = c), (s) => (stage = s));
    }
    if (ctx.from === 'dhcp') {
      stats.dhcpRetries = lease.retries;
      if (node.ip && lease.ip !== node.ip) throw new NodeFailure(`DHCP gave ${lease.ip}, not the node's fixed address ${node.ip}`);
      mark('dhcp');
      if (ctx.until === 'dhcp') return up();
    }
    stage = 'pxelinux';
    if (lease.file !== 'pxelinux.0') throw new NodeFailure(`DHCP gave boot file "${lease.file}", expected pxelinux.0`);
    const host = lease.nextServer;
    if (!(await tftp(node, host, 'pxelinux.0', ctx.files.get('pxelinux.0'), stats))) throw new NodeFailure('pxelinux.0: file not found');
    let config;
    for (const name of pxelinuxNames(node.mac, lease.ip)) {
      config = await tftp(node, host, name, undefined, stats);
      if (config) break;
      stats.configMisses++;
    }
    if (!config) throw new NodeFailure('no pxelinux config found');
    mark('pxelinux');
    if (ctx.until === 'pxelinux') return up();
    stage = 'kernel';
    const kernel = /^\s*KERNEL\s+(\S+)/m.exec(config.toString())?.[1];
    const initrd = /^\s*INITRD\s+(\S+)/m.exec(config.toString())?.[1];
    if (!kernel || !initrd) throw new NodeFailure('the pxelinux config names no KERNEL or INITRD');
    if (node.http) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        await httpGet(host, agent, kernel, ctx.files.get(kernel), stats);
        await httpGet(host, agent, initrd, ctx.files.get(initrd), stats);
      } finally {
        agent.destroy();
      }
    } else {
      await tftp(node, host, kernel, ctx.files.get(kernel), stats);
      await tftp(node, host, initrd, ctx.files.get(initrd), stats);
    }
    mark('kernel');
    if (ctx.until === 'kernel') return up();
    stage = 'mount';
    return await mountAndReplay(node, lease, ctx, stats, mark, up, (c) => (client = c), (s) => (stage = s));
  } catch (err) {
    return { mac: node.mac, http: node.http, ok: false, stage, error: err.message, ms: Math.round(performance.now() - t0), stages, ...stats };
  } finally {
    client?.close();
  }
}

/** What the replay needs from the template tree: file bytes (read once, shared by every node), directory listings. */
function bootModel(replayFile, templateDir) {
  const data = JSON.parse(readFileSync(replayFile, 'utf8'));
  const content = new Map();
  const children = new Map();
  for (const [, p] of data.tree) {
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    const list = children.get(parent) ?? [];
    list.push(p.slice(p.lastIndexOf('/') + 1));
    children.set(parent, list);
  }
  return {
    steps: data.steps,
    content: (p) => {
      let b = content.get(p);
      if (!b) content.set(p, (b = readFileSync(join(templateDir, p))));
      return b;
    },
    children: (p) => children.get(p) ?? [],
    newFileAttributes: { ...noSattr(), mode: 0o644 },
    writeData: Buffer.alloc(64 * 1024, 0x5a),
  };
}

/**
 * Boots `nodes` ({ index, mac, http, ip? }) at once against `server` from `relay`;
 * returns each node's record and this process's CPU seconds. A node with an
 * `ip` (a fixed address its host entry gives) must lease it and mounts and
 * speaks NFS from it; `rootBy` 'ip' mounts DHCP's root-path plus that
 * address instead of the MAC. Each node stops after the stage `until`
 * (default: it goes through all of them); `from` 'pxelinux' or 'mount'
 * starts it at that stage, acting on the lease DHCP would give (`rootPath`:
 * SERVER:/DIR, as DHCP's root-path says it).
 */
export async function bootNodes({ nodes, relay, server, bootDir, replayFile, templateDir, xidBase, rootBy = 'mac', until, from = 'dhcp', rootPath }) {
  const files = new Map();
  const cpu0 = process.cpuUsage();
  const boot = bootModel(replayFile, templateDir);
  for (const name of ['pxelinux.0', 'vmlinuz', 'initrd.img']) files.set(name, readFileSync(join(bootDir, name)));
  const channel = await dhcpChannel(relay, server);
  const t0 = performance.now();
  let records;
  try {
    records = await Promise.all(nodes.map((n) => bootOne({ ...n, macBytes: Buffer.from(n.mac.split(':').map((h) => parseInt(h, 16))) }, { channel, files, boot, xidBase, rootBy, until, from, rootPath, server })));
  } finally {
    channel.close();
  }
  for (const r of records) if (r.doneAt) r.doneAt = Math.round(r.doneAt - t0);
  const cpu = process.cpuUsage(cpu0);
  return { records, cpuSeconds: (cpu.user + cpu.system) / 1e6, wallMs: Math.round(performance.now() - t0) };
}
