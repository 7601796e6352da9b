import t from 'tap';
import fc from 'fast-check';
import { encode, type XdrCodec as Codec } from '@netboot/oncrpc-xdr';
import { ascii, hex, samePlain, xdrGoldens, xdrProperties } from '../../../test/support/xdr-properties.js';
import {
  dirpath,
  exportList,
  FHSIZE,
  fhStatus,
  MountStat,
  mountList,
  mountResult3,
  type ExportEntry,
  type FhStatus,
  type MountEntry,
  type MountResult3,
} from '@netboot/mountd';



const goldens: [string, Codec<any>, unknown, string][] = [
  ['dirpath', dirpath, '/usr', `00000004 ${ascii('/usr')}`],
  ['mountres3 OK', mountResult3, { status: 0, fhandle: hex('0102030405060708'), authFlavors: [1] }, '00000000 00000008 0102030405060708 00000001 00000001'],
  ['mountres3 ACCES', mountResult3, { status: MountStat.ACCES }, '0000000d'],
  ['mountres3 NOENT', mountResult3, { status: MountStat.NOENT }, '00000002'],
  ['fhstatus OK', fhStatus, { status: 0, fhandle: Buffer.alloc(32, 0xab) }, `00000000 ${'ab'.repeat(32)}`],
  ['fhstatus ACCES', fhStatus, { status: 13 }, '0000000d'],
  ['empty mountlist', mountList, [], '00000000'],
  [
    'mountlist',
    mountList,
    [{ hostname: '198.18.1.21', directory: '/diskless/198.18.1.21' }],
    `00000001 0000000b ${ascii('198.18.1.21')}00 00000015 ${ascii('/diskless/198.18.1.21')}000000 00000000`,
  ],
  [
    'exports',
    exportList,
    [{ dir: '/usr', groups: ['198.18.1.0/24'] }, { dir: '/pub', groups: [] }],
    `00000001 00000004 ${ascii('/usr')} 00000001 0000000d ${ascii('198.18.1.0/24')}000000 00000000 00000001 00000004 ${ascii('/pub')} 00000000 00000000`,
  ],
];

xdrGoldens(t, goldens);

t.test('limits are enforced on both sides', async (t) => {
  t.throws(() => encode(dirpath, `/${'x'.repeat(1024)}`), { code: 'UNREPRESENTABLE', field: 'dirpath' });
  t.throws(() => dirpath.decode(hex(`00000401 ${'2f'.repeat(1028)}`)), { code: 'TOO_LONG', field: 'dirpath' });
  t.throws(() => encode(mountResult3, { status: 0, fhandle: Buffer.alloc(65), authFlavors: [] }), { code: 'UNREPRESENTABLE' });
  t.throws(() => encode(fhStatus, { status: 0, fhandle: Buffer.alloc(31) }), { code: 'UNREPRESENTABLE' });
  t.throws(() => mountResult3.decode(hex('00000003')), { code: 'BAD_VALUE', field: 'mountres3.fhs_status' }, 'not a mountstat3');
  t.throws(() => mountResult3.decode(hex('00000000 00000000 ffffffff')), { code: 'TOO_LONG' }, 'a flavor count is capped before allocating');
  t.throws(() => mountList.decode(hex('00000002')), { code: 'BAD_VALUE' }, 'list links are booleans');
  t.throws(() => encode(mountList, [{ hostname: 'h'.repeat(256), directory: '/' }]), { code: 'UNREPRESENTABLE' });
  t.throws(() => mountResult3.encodeInto({ status: 2 }, Buffer.alloc(3), 0), { code: 'NO_SPACE' });
});

const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const stats = fc.constantFrom(...Object.values(MountStat).filter((s) => s !== 0)) as fc.Arbitrary<Exclude<MountStat, 0>>;

const arbitraries: [string, Codec<any>, fc.Arbitrary<unknown>][] = [
  ['dirpath', dirpath, text(200)],
  [
    'mountres3',
    mountResult3,
    fc.oneof(
      fc.record({ status: fc.constant(0 as const), fhandle: bytes(64), authFlavors: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 8 }) }),
      fc.record({ status: stats }),
    ) as fc.Arbitrary<MountResult3>,
  ],
  [
    'fhstatus',
    fhStatus,
    fc.oneof(fc.record({ status: fc.constant(0), fhandle: fc.uint8Array({ minLength: FHSIZE, maxLength: FHSIZE }) }), fc.record({ status: fc.integer({ min: 1, max: 2 ** 32 - 1 }) })) as fc.Arbitrary<FhStatus>,
  ],
  ['mountlist', mountList, fc.array(fc.record({ hostname: text(60), directory: text(200) }), { maxLength: 6 }) as fc.Arbitrary<MountEntry[]>],
  ['exports', exportList, fc.array(fc.record({ dir: text(100), groups: fc.array(text(60), { maxLength: 5 }) }), { maxLength: 6 }) as fc.Arbitrary<ExportEntry[]>],
];

for (const [name, codec, arb] of arbitraries) xdrProperties(t, name, codec, arb, { equal: samePlain });
