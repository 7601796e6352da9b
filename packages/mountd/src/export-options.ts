/**
 * What an export grants one client, as exports(5) defines the options. NFS
 * (packages/nfs3) enforces the same record, so mountd and NFS agree.
 */
export interface ExportOptions {
  /** `rw`; false is `ro`. */
  rw: boolean;
  /** `sync`; false is `async` (replies before data is stable). */
  sync: boolean;
  /** `root_squash`: uid/gid 0 act as anonuid/anongid. */
  rootSquash: boolean;
  /** `all_squash`: every uid/gid acts as anonuid/anongid. */
  allSquash: boolean;
  anonuid: number;
  anongid: number;
  /** `secure`: requests must come from a source port below 1024. */
  secure: boolean;
  /** `subtree_check` (accepted; netboot's handles never leave their export either way). */
  subtreeCheck: boolean;
  /** `fsid=`: a number (`root` is 0, as nfs-utils), or a UUID written with 32 hex digits. */
  fsid?: string | number;
  crossmnt: boolean;
  nohide: boolean;
}

/** The defaults of exports(5) with modern nfs-utils (2.x): ro, sync, root_squash, secure, no_subtree_check. */
export const DEFAULT_EXPORT_OPTIONS: Readonly<ExportOptions> = Object.freeze({
  rw: false,
  sync: true,
  rootSquash: true,
  allSquash: false,
  anonuid: 65534,
  anongid: 65534,
  secure: true,
  subtreeCheck: false,
  crossmnt: false,
  nohide: false,
});

/** Why one option word was refused, and what the admin can write instead. */
export interface OptionProblem {
  problem: string;
  fix: string;
}

type Flag = { [K in keyof ExportOptions]-?: ExportOptions[K] extends boolean ? K : never }[keyof ExportOptions];

const FLAGS = new Map<string, [Flag, boolean]>(Object.entries({
  ro: ['rw', false],
  rw: ['rw', true],
  sync: ['sync', true],
  async: ['sync', false],
  root_squash: ['rootSquash', true],
  no_root_squash: ['rootSquash', false],
  all_squash: ['allSquash', true],
  no_all_squash: ['allSquash', false],
  secure: ['secure', true],
  insecure: ['secure', false],
  subtree_check: ['subtreeCheck', true],
  no_subtree_check: ['subtreeCheck', false],
  crossmnt: ['crossmnt', true],
  nocrossmnt: ['crossmnt', false],
  nohide: ['nohide', true],
  hide: ['nohide', false],
} satisfies Record<string, [Flag, boolean]>));

/**
 * Options of exports(5) that change nothing netboot serves: write gathering,
 * NLM (netboot serves no lock manager) and ACL (no NFSACL program) switches.
 * Accepted so that an existing /etc/exports loads unchanged.
 */
const NO_EFFECT = new Set([
  'wdelay',
  'no_wdelay',
  'secure_locks',
  'insecure_locks',
  'auth_nlm',
  'no_auth_nlm',
  'acl',
  'no_acl',
  'no_pnfs',
]);

/** Options nfs-utils knows that netboot cannot honour: refusing them beats silently serving something else. */
const UNSUPPORTED = new Map<string, string>(Object.entries({
  nordirplus: 'netboot always offers READDIRPLUS; remove nordirplus',
  pnfs: 'netboot serves no pNFS layouts; remove pnfs',
  mountpoint: 'netboot does not check for a mounted file system; remove mountpoint',
  mp: 'netboot does not check for a mounted file system; remove mp',
  refer: 'netboot serves no NFSv4 referrals; remove refer=',
  replicas: 'netboot serves no NFSv4 replicas; remove replicas=',
  squash_uids: 'squash_uids= was removed from nfs-utils; use all_squash or root_squash with anonuid=',
  squash_gids: 'squash_gids= was removed from nfs-utils; use all_squash or root_squash with anongid=',
  mapping: 'mapping= was removed from nfs-utils; remove it',
  xprtsec: 'netboot serves no RPC-with-TLS; remove xprtsec=',
}));

const KNOWN = [...[...FLAGS.keys()], ...NO_EFFECT, 'anonuid=', 'anongid=', 'fsid=', 'sec=sys'];

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

function suggestion(word: string): string {
  const name = word.includes('=') ? `${word.slice(0, word.indexOf('='))}=` : word;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of KNOWN) {
    const d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best ? `did you mean ${best}?` : `the options are ${[...FLAGS.keys()].join(', ')}, anonuid=N, anongid=N, fsid=N|root|UUID`;
}

const ID = /^(0|[1-9][0-9]{0,9})$/;

function parseId(value: string): number | undefined {
  if (!ID.test(value)) return undefined;
  const n = Number(value);
  return n <= 0xffffffff ? n : undefined;
}

function parseFsid(value: string): string | number | undefined {
  if (value === 'root') return 0;
  // strtoul base 0, as nfs-utils: decimal, 0x hex, 0 octal
  if (/^0x[0-9a-f]+$/i.test(value)) return parseInt(value.slice(2), 16) <= 0xffffffff ? parseInt(value.slice(2), 16) : undefined;
  if (/^0[0-7]+$/.test(value)) return parseInt(value, 8) <= 0xffffffff ? parseInt(value, 8) : undefined;
  const id = parseId(value);
  if (id !== undefined) return id;
  const hex = value.replace(/[-:]/g, '');
  if (/^[0-9a-f]{32}$/i.test(hex)) return value.toLowerCase();
  return undefined;
}

/**
 * Applies one option word (`rw`, `anonuid=1000`, ...) to `opts`. Later words
 * override earlier ones, as nfs-utils. Returns the problem when the word is
 * not one netboot accepts.
 */
export function applyOption(opts: ExportOptions, word: string): OptionProblem | undefined {
  const flag = FLAGS.get(word);
  if (flag) {
    opts[flag[0]] = flag[1];
    return undefined;
  }
  if (NO_EFFECT.has(word)) return undefined;
  const eq = word.indexOf('=');
  const key = eq < 0 ? word : word.slice(0, eq);
  const value = eq < 0 ? '' : word.slice(eq + 1);
  if (eq >= 0 && (key === 'anonuid' || key === 'anongid')) {
    const id = parseId(value);
    if (id === undefined) {
      return { problem: `${key}=${value} is not a user or group id`, fix: `write a decimal number from 0 to 4294967295, e.g. ${key}=65534` };
    }
    opts[key] = id;
    return undefined;
  }
  if (eq >= 0 && key === 'fsid') {
    const fsid = parseFsid(value);
    if (fsid === undefined) {
      return { problem: `fsid=${value} is not a file system id`, fix: 'write a number (fsid=1), fsid=root, or a UUID with 32 hex digits' };
    }
    opts.fsid = fsid;
    return undefined;
  }
  if (eq >= 0 && key === 'sec') {
    const flavors = value.split(':');
    const other = flavors.find((f) => f !== 'sys' && f !== 'unix');
    if (other === undefined && value !== '') return undefined;
    if (other !== undefined && /^krb5[ip]?$/.test(other)) {
      return {
        problem: `sec=${value}: netboot does not offer Kerberos security (${other}); it serves AUTH_SYS only`,
        fix: 'write sec=sys, or serve this export from the kernel NFS server with rpc.svcgssd',
      };
    }
    return { problem: `sec=${value}: netboot serves AUTH_SYS only`, fix: 'write sec=sys or remove sec=' };
  }
  const unsupported = UNSUPPORTED.get(key);
  if (unsupported !== undefined) return { problem: `option ${word} is not supported`, fix: unsupported };
  if (word === '') return { problem: 'empty option', fix: 'remove the extra comma' };
  return { problem: `unknown option ${JSON.stringify(word)}`, fix: suggestion(word) };
}

/** The options written out in full, in the order nfs-utils' exportfs -v uses. */
export function formatOptions(o: ExportOptions): string {
  const words = [
    o.rw ? 'rw' : 'ro',
    o.sync ? 'sync' : 'async',
    o.nohide ? 'nohide' : 'hide',
    o.crossmnt ? 'crossmnt' : 'nocrossmnt',
    o.secure ? 'secure' : 'insecure',
    o.rootSquash ? 'root_squash' : 'no_root_squash',
    o.allSquash ? 'all_squash' : 'no_all_squash',
    o.subtreeCheck ? 'subtree_check' : 'no_subtree_check',
  ];
  if (o.fsid !== undefined) words.push(`fsid=${o.fsid}`);
  words.push(`anonuid=${o.anonuid}`, `anongid=${o.anongid}`);
  return words.join(',');
}
