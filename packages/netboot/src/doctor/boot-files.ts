import { open, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { resolveUnderRoot } from '@netboot/tftp-wire';
import type { BootClient } from './node-decl.js';
import { ipxeImages, isIpxeScript } from './ipxe-script.js';

/** One line of a node's report: a check that passed or failed, or a note that does not stop the boot. */
export interface Finding {
  ok: boolean;
  what: string;
  /** For a problem or a note: what to do about it. */
  fix?: string;
  /** Worth knowing, but the node boots (e.g. UEFI nodes get nothing where there are none). */
  note?: boolean;
}

/** Where boot files fetched over HTTP come from, to check that a URL points at a file that is there. */
export interface HttpRoot {
  /** The directory the HTTP server serves; netboot's serves the TFTP root. */
  root: string;
  /** The URL that maps to `root` (http://198.18.0.1/); without it a URL's path is looked up under `root`. */
  urlPrefix?: string;
  /** The port netboot serves HTTP on (`--http-port`), to spot URLs aimed elsewhere. */
  port?: number;
}

export async function fileUnderRoot(root: string, name: string): Promise<boolean> {
  return (await findUnderRoot(root, name)) !== undefined;
}

/** The real path of regular file `name` under `root`, as the TFTP and HTTP servers would resolve it. */
async function findUnderRoot(root: string, name: string): Promise<string | undefined> {
  const r = await resolveUnderRoot(root, name);
  if (!r.ok) return undefined;
  return stat(r.path).then(
    (s) => (s.isFile() ? r.path : undefined),
    () => undefined,
  );
}

/** Names of programs only BIOS firmware runs. */
const BIOS_PROGRAM = /(\.0|\.kpxe|\.kkpxe|\.kkkpxe|\.pxe|\.com)$/i;

/**
 * For each kind of boot client, the file it would be given and whether that
 * file is there: under the TFTP root, or for an http:// URL under the HTTP
 * root. The BIOS file is required (the boot checked below it starts there);
 * a file the config gives only to another kind must exist too; a kind that
 * gets nothing, or the BIOS file, is noted, since a cluster may have no such
 * nodes.
 */
export async function checkBootFiles(tftpRoot: string, http: HttpRoot, files: readonly { client: BootClient; file?: string }[]): Promise<Finding[]> {
  const out: Finding[] = [];
  const bios = files.find((f) => f.client.kind === 'bios')?.file;
  for (const { client, file } of files) {
    const who = client.label;
    if (file === undefined) {
      if (client.kind === 'bios') out.push({ ok: false, what: `${who}: dhcpd.conf gives it no boot file`, fix: 'add filename "pxelinux.0"; to its host, group or PXE class' });
      else out.push({ ok: true, note: true, what: `${who}: dhcpd.conf gives it no boot file`, fix: FIX_FOR[client.kind] });
      continue;
    }
    if (client.kind !== 'bios' && file === bios) {
      const hazard = (client.kind === 'uefi' || client.kind === 'http') && BIOS_PROGRAM.test(file);
      out.push({
        ok: true,
        note: true,
        what: `${who}: the same boot file as a BIOS node, ${file}${hazard ? ', a BIOS program UEFI firmware cannot run' : ''}`,
        fix: hazard ? FIX_FOR[client.kind] : undefined,
      });
      continue;
    }
    const found = await locate(tftpRoot, http, `${who}: boot file`, file, client.kind === 'bios');
    out.push(found.finding);
    if (found.local) out.push(...(await checkIpxeScript(tftpRoot, http, who, file, found.local)));
    if (client.kind === 'bios' && /pxelinux\.0$/.test(file) && out[out.length - 1].ok) {
      const ldlinux = posix.join(posix.dirname(file.replace(/^\/+/, '')), 'ldlinux.c32');
      if (await fileUnderRoot(tftpRoot, ldlinux)) out.push({ ok: true, what: `${ldlinux} is beside it` });
      else out.push({ ok: false, what: `${ldlinux} is missing: pxelinux 5 and later stop without it`, fix: `copy ldlinux.c32 (Debian: /usr/lib/syslinux/modules/bios/ldlinux.c32) to ${join(tftpRoot, ldlinux)}` });
    }
  }
  return out;
}

const FIX_FOR: Record<BootClient['kind'], string> = {
  bios: '',
  uefi: 'if the cluster has UEFI nodes, give them an EFI program: if option arch = 00:07 { filename "ipxe.efi"; } (@netboot/dhcp-wire README, "Conditionals")',
  ipxe: 'to chainload iPXE over HTTP: if exists user-class and option user-class = "iPXE" { filename "http://.../boot.ipxe"; } (@netboot/dhcp-wire README, "Conditionals")',
  http: 'for UEFI HTTP Boot nodes: if substring(option vendor-class-identifier, 0, 10) = "HTTPClient" { filename "http://.../ipxe.efi"; } (@netboot/dhcp-wire README, "Conditionals")',
};

/** Where a file was looked for: the finding, and the file itself when it is there. */
interface Located {
  finding: Finding;
  local?: string;
}

/**
 * Whether `file` (a TFTP path, a tftp:// or http:// URL) is there; `what`
 * starts the report line ("BIOS PXE node: boot file"); `required` marks the
 * BIOS file, whose fix names Debian's pxelinux.0.
 */
async function locate(tftpRoot: string, http: HttpRoot, what: string, file: string, required: boolean): Promise<Located> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(file)?.[1].toLowerCase();
  if (scheme === undefined) {
    const local = await findUnderRoot(tftpRoot, file);
    if (local) return { finding: { ok: true, what: `${what} ${file} is under the TFTP root ${tftpRoot}` }, local };
    return {
      finding: {
        ok: false,
        what: `${what} ${file} is not under the TFTP root ${tftpRoot}`,
        fix: required ? 'copy it there (Debian: /usr/lib/PXELINUX/pxelinux.0 for pxelinux.0)' : `copy it to ${join(tftpRoot, file)}`,
      },
    };
  }
  let url: URL;
  try {
    url = new URL(file);
  } catch {
    return { finding: { ok: false, what: `${what} ${file} is not a valid URL`, fix: 'write it as http://SERVER[:PORT]/PATH' } };
  }
  const path = safeDecode(url.pathname);
  if (scheme === 'tftp') {
    const local = path === undefined ? undefined : await findUnderRoot(tftpRoot, path);
    if (local) return { finding: { ok: true, what: `${what} ${file} is under the TFTP root ${tftpRoot}` }, local };
    return { finding: { ok: false, what: `${what} ${file} is not under the TFTP root ${tftpRoot}`, fix: `copy it to ${join(tftpRoot, path ?? '')}` } };
  }
  if (scheme !== 'http') return { finding: { ok: true, note: true, what: `${what} ${file} is fetched over ${scheme}, which netboot does not serve; not checked` } };
  let rel = path?.replace(/^\/+/, '');
  if (http.urlPrefix !== undefined) {
    if (!file.startsWith(http.urlPrefix)) {
      return { finding: { ok: true, note: true, what: `${what} ${file} is outside --http-url-prefix ${http.urlPrefix}; not checked` } };
    }
    rel = safeDecode(file.slice(http.urlPrefix.length).replace(/[?#].*$/, ''));
  }
  const port = url.port === '' ? 80 : Number(url.port);
  const portNote = http.port !== undefined && port !== http.port ? ` (but the URL's port is ${port} and netboot serves HTTP on ${http.port})` : '';
  const local = rel === undefined ? undefined : await findUnderRoot(http.root, rel);
  if (local) {
    return {
      finding: { ok: !portNote, what: `${what} ${file} is ${rel} under the HTTP root ${http.root}${portNote}`, fix: portNote ? `use port ${http.port} in the URL, or serve HTTP on ${port}` : undefined },
      local,
    };
  }
  return {
    finding: { ok: false, what: `${what} ${file} is not under the HTTP root ${http.root} (looked for ${rel ?? url.pathname})`, fix: `copy it to ${join(http.root, rel ?? '')}, or point --http-root/--http-url-prefix at where the URL is served from` },
  };
}

/** The images an iPXE script boot file fetches, each looked for as the boot file was; nothing when it is not a script. */
async function checkIpxeScript(tftpRoot: string, http: HttpRoot, who: string, file: string, local: string): Promise<Finding[]> {
  const head = await readHead(local);
  if (!isIpxeScript(head)) return [];
  const text = await readFile(local, 'latin1');
  const name = posix.basename(file.replace(/[?#].*$/, ''));
  // iPXE resolves a relative URI against the script's own; a script named by a bare TFTP path came by TFTP.
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(file) ? file : `tftp://${NEXT_SERVER}/${file.replace(/^\/+/, '')}`;
  const out: Finding[] = [];
  for (const image of ipxeImages(text)) {
    const what = `${who}: ${image.command} ${image.uri} (${name} line ${image.line})`;
    if (image.uri.includes('${')) {
      out.push({ ok: true, note: true, what: `${what} depends on iPXE settings; not checked` });
      continue;
    }
    let target: string;
    try {
      const url = new URL(image.uri, base);
      target = url.protocol === 'tftp:' && url.host === NEXT_SERVER ? (safeDecode(url.pathname) ?? url.pathname).replace(/^\/+/, '') : url.href;
    } catch {
      out.push({ ok: false, what: `${what} is not a valid URI`, fix: `fix line ${image.line} of ${local}` });
      continue;
    }
    const found = await locate(tftpRoot, http, `${who}: ${image.command} from ${name}:`, target, false);
    out.push(found.finding);
  }
  return out;
}

/** Stands for the server a TFTP-loaded script came from, which relative names in it are fetched from too. */
const NEXT_SERVER = 'next-server';

async function readHead(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
