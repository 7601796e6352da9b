// Decodes a captured udhcpc DISCOVER many times with the hand-written decoder
// of @netboot/dhcp-wire (header and options) and its fixed header alone with
// binary-parser, which decided that binary-parser is not a dependency: the
// hand decoder does more work and is still faster. binary-parser is not
// installed by the project; to re-run the comparison:
//   npm install --no-save binary-parser@^2.3.0 && node bench/dhcp-header.js [--json]
import { readFileSync } from 'node:fs';
import { decode } from '@netboot/dhcp-wire';

let Parser;
try {
  ({ Parser } = await import('binary-parser'));
} catch {
  console.error('binary-parser is not installed (it is not a dependency); see the comment at the top of this file');
  process.exit(2);
}

const json = process.argv.includes('--json');
const hex = readFileSync(new URL('../packages/dhcp-wire/test/fixtures/udhcpc-discover.hex', import.meta.url), 'utf8').trim();
const packet = Buffer.from(hex, 'hex');

// The same fields the hand decoder produces for the header: numbers, and the byte fields as buffers.
const header = new Parser()
  .uint8('op').uint8('htype').uint8('hlen').uint8('hops')
  .uint32be('xid').uint16be('secs').uint16be('flags')
  .uint32be('ciaddr').uint32be('yiaddr').uint32be('siaddr').uint32be('giaddr')
  .buffer('chaddr', { length: 16 }).buffer('sname', { length: 64 }).buffer('file', { length: 128 })
  .uint32be('cookie');

function handHeader(b) {
  // The header part of decode(): the options walk is the same either way.
  const m = decode(b);
  return m.xid;
}

function time(fn, n) {
  for (let i = 0; i < 20_000; i++) fn(packet); // warm up
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < n; i++) sink ^= fn(packet);
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === 0.5) console.log(sink);
  return n / (ns / 1e9);
}

const N = 1_000_000;
const results = {
  handFullDecode: time(handHeader, N),
  binaryParserHeaderOnly: time((b) => header.parse(b).xid, N),
};
if (json) {
  const { cell, report } = await import('./lib/report.js');
  const values = { netboot: Math.round(results.handFullDecode), 'binary-parser': Math.round(results.binaryParserHeaderOnly) };
  console.log(JSON.stringify(report({ benchmark: 'dhcp-header', params: { packets: N }, cells: [cell({ key: 'decode', label: 'DHCP packets decoded per second', unit: 'packets/s', values, reference: 'binary-parser' })] })));
}
else {
  console.log(`hand decoder (header + options, views):  ${Math.round(results.handFullDecode).toLocaleString()} packets/s`);
  console.log(`binary-parser (header only, copies):     ${Math.round(results.binaryParserHeaderOnly).toLocaleString()} packets/s`);
}
