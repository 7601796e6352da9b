// One fuzz target per decoder and parser of the shipped packages (their
// built dist, as users get them). A target is { name, golden, run(input),
// typed(err), maxInput? }: `run` decodes, `typed` says whether a throw is the
// package's own typed error (anything else is a finding).
import { readFileSync } from 'node:fs';
import {
  XdrError,
  XdrReader,
  decodeRpcMessage,
  encodeRpcMessage,
  credentialFromOpaqueAuth,
  credentialToOpaqueAuth,
  decodeAuthSys,
  RecordDecoder,
  recordMark,
  decode as xdrDecode,
  encode as xdrEncode,
} from '@netboot/oncrpc-xdr';
import * as portmap from '@netboot/portmap';
import * as mountd from '@netboot/mountd';
import * as nfs3 from '@netboot/nfs3';
import * as nlm from '@netboot/nlm';
import * as tftp from '@netboot/tftp-wire';
import * as httpBoot from '@netboot/http-boot';
import * as dhcp from '@netboot/dhcp-wire';
import { prng } from './engine.js';

const repo = new URL('../', import.meta.url);
const isXdr = (e) => e instanceof XdrError;
const text = (path) => readFileSync(new URL(path, repo), 'utf8');
const hex = (path) => Buffer.from(text(path).trim(), 'hex');

/**
 * Goldens for a structured codec: XDR-shaped random words (mostly 0, 1 and
 * small lengths) that decode, re-encoded, so mutations start from valid
 * messages without hand-writing a value of every type.
 */
function harvest(decode, encode, count = 8, seed = 7) {
  const rng = prng(seed);
  const out = [];
  for (let tries = 0; tries < 1500 && out.length < count; tries++) {
    const words = 1 + rng.int(40);
    const b = Buffer.alloc(words * 4);
    for (let i = 0; i < words; i++) {
      const p = rng.next();
      b.writeUInt32BE(p < 0.4 ? rng.int(2) : p < 0.85 ? rng.int(70) : Math.floor(rng.next() * 0x100000000), i * 4);
    }
    try {
      const v = decode(b);
      const enc = encode(v);
      if (enc.length > 0 && !out.some((o) => o.equals(enc))) out.push(enc);
    } catch {
      // not a valid message; try another
    }
  }
  return out;
}

function xdrCodecTarget(name, decode, encode) {
  return { name, golden: harvest(decode, encode), run: decode, typed: isXdr };
}

// ---- ONC RPC -------------------------------------------------------------

const authSys = { flavor: 1, stamp: 0x1234, machine: 'node21', uid: 1000, gid: 100, gids: [4, 24, 27] };
const rpcCalls = [
  encodeRpcMessage({ type: 0, xid: 1, rpcvers: 2, prog: 100003, vers: 3, proc: 1, cred: credentialToOpaqueAuth(authSys), verf: { flavor: 0, body: Buffer.alloc(0) } }),
  encodeRpcMessage({ type: 0, xid: 2, rpcvers: 2, prog: 100000, vers: 2, proc: 3, cred: { flavor: 0, body: Buffer.alloc(0) }, verf: { flavor: 0, body: Buffer.alloc(0) } }),
  hex('packages/oncrpc-xdr/test/fixtures/rpcbind-reply-prog-mismatch.hex'),
  hex('packages/oncrpc-xdr/test/fixtures/rpcbind-reply-bad-authsys.hex'),
  hex('packages/oncrpc-xdr/test/fixtures/rpcinfo-getaddr-v4-udp.hex'),
];

const xdrReaderOps = [
  (r) => r.u32('u32'),
  (r) => r.i32('i32'),
  (r) => r.u64('u64'),
  (r) => r.i64('i64'),
  (r) => r.f32('f32'),
  (r) => r.f64('f64'),
  (r) => r.bool('bool'),
  (r) => r.enumOf(new Set([0, 1, 2, 7]), 'enum'),
  (r, k) => r.fixedOpaque(k % 37, 'fixed'),
  (r) => r.opaque(1024, 'opaque'),
  (r) => r.opaque(0xffffffff, 'opaque unbounded'),
  (r) => r.string(255, 'string'),
  (r) => r.arrayLength(1000, 'array', 4),
  (r) => r.optional('optional'),
  (r) => r.done('done'),
];

export const rpcTargets = [
  {
    // The first 8 bytes choose the operations, the rest is the data they read.
    name: 'xdr-reader',
    golden: [Buffer.concat([Buffer.from([0, 9, 11, 12, 3, 13, 8, 14]), rpcCalls[0]])],
    run(b) {
      const ops = b.subarray(0, Math.min(8, b.length));
      const r = new XdrReader(b, ops.length);
      for (const op of ops) xdrReaderOps[op % xdrReaderOps.length](r, op);
    },
    typed: isXdr,
  },
  {
    name: 'rpc-message',
    golden: rpcCalls,
    run(b) {
      const { msg } = decodeRpcMessage(b);
      if (msg.type === 0) credentialFromOpaqueAuth(msg.cred);
    },
    typed: isXdr,
  },
  {
    name: 'auth-sys',
    golden: [credentialToOpaqueAuth(authSys).body],
    run: (b) => decodeAuthSys(b),
    typed: isXdr,
  },
  {
    // A TCP stream cut at input-chosen points: the first byte picks the cut size.
    name: 'record-marking',
    golden: [Buffer.concat([Buffer.from([5]), recordMark(rpcCalls[0].length), rpcCalls[0], recordMark(4, false), Buffer.alloc(4), recordMark(rpcCalls[1].length), rpcCalls[1]])],
    run(b) {
      const dec = new RecordDecoder(64 * 1024);
      const step = 1 + (b[0] ?? 0);
      for (let at = 1; at < b.length; at += step) dec.push(b.subarray(at, at + step));
    },
    typed: isXdr,
  },
];

// ---- portmap and MOUNT ---------------------------------------------------

const pmCodecs = ['mapping', 'pmaplist', 'callArgs', 'callResult', 'rpcb', 'rpcblist', 'rpcbEntry', 'rpcbEntryList', 'rmtCallRes', 'netbuf', 'rpcbStat', 'rpcbStatByVers', 'uaddrString'];

export const portmapTargets = [
  ...pmCodecs.map((n) => xdrCodecTarget(`portmap-${n}`, (b) => portmap[n].decode(b).value, (v) => portmap[n].encode(v))),
  {
    name: 'portmap-uaddr',
    golden: ['198.18.0.1.8.1', '::1.0.111', '0.0.0.0.0.111', 'fe80::1%eth0.3.4'].map((s) => Buffer.from(s, 'latin1')),
    run(b) {
      portmap.parseUaddr(b.toString('latin1'));
      portmap.taddrToUaddr(b);
      portmap.uaddrToTaddr(b.toString('latin1'));
    },
    typed: () => false,
  },
];

const mountCodecs = ['dirpath', 'dirpathBytes', 'mountResult3', 'fhStatus', 'mountList', 'exportList'];
export const mountTargets = mountCodecs.map((n) =>
  xdrCodecTarget(`mount-${n}`, (b) => mountd[n].decode(b).value, (v) => xdrEncode(mountd[n], v)),
);

// ---- NFSv3 ---------------------------------------------------------------

const handles = new nfs3.HandleCodec(Buffer.alloc(32, 9));
const goodHandle = handles.encode({ exportId: 1, ino: 1234n, birth: 99n });

export const nfsTargets = [
  ...Object.keys(nfs3.procedures).flatMap((p) => [
    xdrCodecTarget(`nfs3-${p}-args`, (b) => xdrDecode(nfs3.procedures[p].args, b), (v) => xdrEncode(nfs3.procedures[p].args, v)),
    xdrCodecTarget(`nfs3-${p}-res`, (b) => xdrDecode(nfs3.procedures[p].res, b), (v) => xdrEncode(nfs3.procedures[p].res, v)),
  ]),
  {
    // A handle with any change must not decode (it would name another file).
    name: 'nfs3-handle',
    golden: [goodHandle],
    run(b) {
      const id = handles.decode(b);
      if (id && !b.equals(goodHandle)) throw new Error(`altered handle ${b.toString('hex')} decoded`);
    },
    typed: () => false,
  },
];

// ---- TFTP ----------------------------------------------------------------

const tftpPackets = [
  tftp.encode({ op: 1, filename: 'pxelinux.0', mode: 'octet', options: [{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '0' }, { name: 'windowsize', value: '16' }] }),
  tftp.encode({ op: 2, filename: 'upload/file.bin', mode: 'netascii', options: [] }),
  tftp.encode({ op: 3, block: 7, data: Buffer.from('hello world') }),
  tftp.encode({ op: 4, block: 65535 }),
  tftp.encode({ op: 5, code: 1, message: 'File not found' }),
  tftp.encode({ op: 6, options: [{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '42392' }] }),
];
const limits = { blksizeMax: 65464, windowMax: 64, timeoutMin: 1, timeoutMax: 255 };
const remapRules = tftp.parseRemap(text('fuzz/golden/remap.rules'), 'remap.rules');

export const tftpTargets = [
  {
    name: 'tftp-packet',
    golden: tftpPackets,
    maxInput: 2048,
    run(b) {
      const p = tftp.decode(b);
      // What the server does next with a request: negotiate its options, remap its name.
      if (p.op === 1 || p.op === 2) {
        tftp.negotiateOptions(p.options, p.op === 1 ? 'read' : 'write', limits, 1000);
        remapRules.apply(p.filename, { op: p.op === 1 ? 'get' : 'put', address: '198.18.1.21' });
      }
      if (p.op === 6) tftp.acceptOack([{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '0' }, { name: 'windowsize', value: '16' }], p.options);
    },
    typed: (e) => e instanceof tftp.TftpWireError || e instanceof tftp.OackRefused,
  },
  {
    name: 'tftp-netascii',
    golden: [Buffer.from('line one\r\nline two\r\0\r\n')],
    run(b) {
      tftp.fromNetascii(b);
      const d = new tftp.NetasciiDecoder();
      for (let at = 0; at < b.length; at += 7) d.push(b.subarray(at, at + 7));
      d.end();
    },
    typed: () => false,
  },
  {
    name: 'tftp-remap-parser',
    golden: [Buffer.from(text('fuzz/golden/remap.rules'))],
    maxInput: 4096,
    run(b) {
      const rules = tftp.parseRemap(b.toString('latin1'), 'remap.rules');
      rules.apply('pxelinux.cfg/01-52-54-00-12-34-56', { op: 'get', address: '198.18.1.21' });
      rules.apply('\\BOOT\\EFI\\grubx64.efi', { op: 'put', address: '2001:db8::1' });
    },
    typed: (e) => e instanceof tftp.RemapSyntaxError,
  },
];

// ---- DHCP ----------------------------------------------------------------

const guide = text('packages/dhcp-wire/test/fixtures/gentoo-dhcpd.conf');
const dhcpFixtures = ['dhclient-discover', 'ipxe-discover', 'perfdhcp-discover', 'udhcpc-discover', 'uefi-http-discover']
  .map((n) => `packages/dhcp-wire/test/fixtures/${n}.hex`)
  .filter((p) => {
    try {
      text(p);
      return true;
    } catch {
      return false;
    }
  })
  .map(hex);
const spaces = dhcp.builtinSpaces();
const ip = (s) => dhcp.parseIpv4(s);
const eth0 = { name: 'eth0', address: ip('198.18.21.1'), network: ip('198.18.21.0'), mask: ip('255.255.255.0') };
const policy = new dhcp.LeasePolicy(dhcp.parseConfig(guide, 'gentoo-dhcpd.conf'));
// The same datagrams through if/elsif/else and match-if expressions on a second link.
const lab0 = { name: 'lab0', address: ip('198.18.0.1'), network: ip('198.18.0.0'), mask: ip('255.255.255.0') };
const conditionalPolicy = new dhcp.LeasePolicy(dhcp.parseConfig(text('fuzz/golden/dhcpd-conditional.conf'), 'dhcpd-conditional.conf'));
let policyClock = 1_000_000;

function decodeEveryOption(msg) {
  for (const o of msg.options) {
    for (const space of spaces.values()) {
      const def = space.code(o.code);
      if (def) dhcp.decodeOptionValue(def.type, o.data, `${space.name}.${def.name}`, 0);
    }
  }
}

export const dhcpTargets = [
  {
    name: 'dhcp-message',
    golden: dhcpFixtures,
    maxInput: 1500,
    run(b) {
      const msg = dhcp.decode(b);
      decodeEveryOption(msg);
    },
    typed: (e) => e instanceof dhcp.DhcpWireError,
  },
  {
    // Whatever decodes goes through the RFC 2131 policy, which must never throw.
    name: 'dhcp-policy',
    golden: dhcpFixtures,
    maxInput: 1500,
    run(b) {
      let msg;
      try {
        msg = dhcp.decode(b);
      } catch (e) {
        if (e instanceof dhcp.DhcpWireError) return;
        throw e;
      }
      policyClock += 1000;
      const out = policy.handle({ msg, via: eth0, from: { address: b[0] & 1 ? 0 : ip('198.18.21.77'), port: 68 }, localPort: 67 }, policyClock);
      if (out.reply) dhcp.encode(out.reply.msg);
      const lab = conditionalPolicy.handle({ msg, via: lab0, from: { address: 0, port: 68 }, localPort: 67 }, policyClock);
      if (lab.reply) dhcp.encode(lab.reply.msg);
    },
    typed: () => false,
  },
  {
    name: 'dhcp-config-parser',
    golden: [
      Buffer.from(guide),
      Buffer.from(text('fuzz/golden/dhcpd-pxe.conf')),
      Buffer.from(text('fuzz/golden/dhcpd-conditional.conf')),
      Buffer.from(text('packages/dhcp-wire/test/fixtures/mixed-boot-dhcpd.conf')),
    ],
    maxInput: 8192,
    run: (b) => dhcp.parseConfig(b.toString('latin1'), 'dhcpd.conf'),
    typed: (e) => e instanceof dhcp.ConfigError,
  },
  {
    name: 'dhcp-lease-file',
    golden: [Buffer.from(text('fuzz/golden/dhcpd.leases'))],
    maxInput: 4096,
    run: (b) => dhcp.parseLeaseFile(b.toString('latin1')),
    typed: () => false,
  },
];

// ---- NLM v4 and NSM -------------------------------------------------------

// One target per distinct argument or result type, each seeded with a
// hand-made valid message (random words rarely make a whole nlm4_lockargs).
const alock = { callerName: 'node21', fh: Buffer.alloc(32, 0xab), oh: Buffer.from('1234@node21'), svid: 1234, offset: 0n, length: 0n };
const myIdSample = { myName: '127.0.0.1', myProg: 100021, myVers: 4, myProc: 16 };
const nlmSamples = [
  ['nlm4-testargs', nlm.nlm4TestArgs, { cookie: Buffer.from([1, 2, 3, 4]), exclusive: true, alock }],
  ['nlm4-lockargs', nlm.nlm4LockArgs, { cookie: Buffer.from([1]), block: true, exclusive: true, alock, reclaim: false, state: 3 }],
  ['nlm4-cancargs', nlm.nlm4CancArgs, { cookie: Buffer.alloc(0), block: true, exclusive: false, alock }],
  ['nlm4-unlockargs', nlm.nlm4UnlockArgs, { cookie: Buffer.alloc(8), alock }],
  ['nlm4-testres', nlm.nlm4TestRes, { cookie: Buffer.alloc(4), stat: { stat: 1, holder: { exclusive: true, svid: 9, oh: Buffer.from('oh'), offset: 5n, length: 10n } } }],
  ['nlm4-res', nlm.nlm4Res, { cookie: Buffer.alloc(4), stat: 3 }],
  ['nlm4-shareargs', nlm.nlm4ShareArgs, { cookie: Buffer.alloc(0), share: { callerName: 'pc', fh: Buffer.alloc(32, 1), oh: Buffer.from('x'), mode: 2, access: 3 }, reclaim: false }],
  ['nlm4-shareres', nlm.nlm4ShareRes, { cookie: Buffer.alloc(0), stat: 1, sequence: 0 }],
  ['nlm4-notify', nlm.nlm4Notify, { name: 'node21', state: 5 }],
  ['nsm-sm_name', nlm.smName, { monName: 'node21' }],
  ['nsm-my_id', nlm.myId, myIdSample],
  ['nsm-mon_id', nlm.monId, { monName: 'node21', myId: myIdSample }],
  ['nsm-mon', nlm.mon, { monId: { monName: 'node21', myId: myIdSample }, priv: Buffer.alloc(16, 3) }],
  ['nsm-sm_stat_res', nlm.smStatRes, { res: 0, state: 7 }],
  ['nsm-sm_stat', nlm.smStat, { state: 7 }],
  ['nsm-stat_chge', nlm.statChge, { monName: 'server', state: 9 }],
  ['nsm-status', nlm.smStatus, { monName: 'server', state: 9, priv: Buffer.alloc(16, 5) }],
];

export const nlmTargets = nlmSamples.map(([name, codec, sample]) => {
  const target = xdrCodecTarget(name, (b) => xdrDecode(codec, b), (v) => xdrEncode(codec, v));
  target.golden.unshift(xdrEncode(codec, sample));
  return target;
});

// ---- exports(5) ----------------------------------------------------------

export const exportsTargets = [
  {
    name: 'exports-parser',
    golden: [Buffer.from(text('fuzz/golden/exports'))],
    maxInput: 4096,
    run(b) {
      const list = mountd.parseExports(b.toString('latin1'), 'exports', { warn: () => {} });
      for (const e of list) mountd.matchClient(e, '198.18.1.21', ['node1.example.org', 'n7']);
    },
    typed: (e) => e instanceof mountd.ExportsError,
  },
];

// ---- HTTP boot files ------------------------------------------------------

export const httpTargets = [
  {
    // A request's Range header and target, as node:http hands them over (latin1 text).
    name: 'http-range-and-target',
    golden: [Buffer.from('bytes=0-499'), Buffer.from('bytes=-500'), Buffer.from('/pxelinux.cfg/01-52-54-00-e2-e0-01?x=%2e%2e')],
    maxInput: 8192,
    run(b) {
      const s = b.toString('latin1');
      for (const size of [0, 1, 500, 2 ** 40]) {
        const r = httpBoot.parseRange(s, size);
        if (r.kind === 'partial' && !(r.start >= 0 && r.start <= r.end && r.end < size)) throw new Error(`range ${r.start}-${r.end} outside ${size} bytes`);
      }
      const n = httpBoot.requestedName(s);
      if (n.ok && (n.name.split('/').includes('..') || n.name.includes('\0'))) throw new Error(`accepted ${JSON.stringify(n.name)}`);
      httpBoot.combinedLogLine({ client: '198.18.1.21', at: new Date(0), method: 'GET', target: s, httpVersion: '1.1', status: 200, bytes: 0, userAgent: s });
    },
    typed: () => false,
  },
];

/** Every target, by name. */
export const targets = [...rpcTargets, ...portmapTargets, ...mountTargets, ...nfsTargets, ...nlmTargets, ...tftpTargets, ...httpTargets, ...dhcpTargets, ...exportsTargets];
