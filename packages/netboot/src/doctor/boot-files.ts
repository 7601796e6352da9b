import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { resolveUnderRoot } from '@netboot/tftp-wire';
import type { BootClient } from './dhcp-nodes.js';

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
  const r = await resolveUnderRoot(root, name);
  if (!r.ok) return false;
  return stat(r.path).then(
    (s) => s.isFile(),
    () => false,
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
    out.push(await locate(tftpRoot, http, who, file, client.kind === 'bios'));
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
  uefi: 'if the cluster has UEFI nodes, give them an EFI program: if option arch = 00:07 { filename "ipxe.efi"; } (README: Conditionals)',
  ipxe: 'to chainload iPXE over HTTP: if exists user-class and option user-class = "iPXE" { filename "http://.../boot.ipxe"; } (README: Conditionals)',
  http: 'for UEFI HTTP Boot nodes: if substring(option vendor-class-identifier, 0, 10) = "HTTPClient" { filename "http://.../ipxe.efi"; } (README: Conditionals)',
};

/** Whether `file` (a TFTP path, tftp:// or http:// URL) is there for the client `who`; `required` marks the BIOS file. */
async function locate(tftpRoot: string, http: HttpRoot, who: string, file: string, required: boolean): Promise<Finding> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(file)?.[1].toLowerCase();
  if (scheme === undefined) {
    if (await fileUnderRoot(tftpRoot, file)) return { ok: true, what: `${who}: boot file ${file} is under the TFTP root ${tftpRoot}` };
    return {
      ok: false,
      what: `${who}: boot file ${file} is not under the TFTP root ${tftpRoot}`,
      fix: required ? 'copy it there (Debian: /usr/lib/PXELINUX/pxelinux.0 for pxelinux.0)' : `copy it to ${join(tftpRoot, file)}`,
    };
  }
  let url: URL;
  try {
    url = new URL(file);
  } catch {
    return { ok: false, what: `${who}: boot file ${file} is not a valid URL`, fix: 'write it as http://SERVER[:PORT]/PATH' };
  }
  const path = safeDecode(url.pathname);
  if (scheme === 'tftp') {
    if (path !== undefined && (await fileUnderRoot(tftpRoot, path))) return { ok: true, what: `${who}: boot file ${file} is under the TFTP root ${tftpRoot}` };
    return { ok: false, what: `${who}: boot file ${file} is not under the TFTP root ${tftpRoot}`, fix: `copy it to ${join(tftpRoot, path ?? '')}` };
  }
  if (scheme !== 'http') return { ok: true, note: true, what: `${who}: boot file ${file} is fetched over ${scheme}, which netboot does not serve; not checked` };
  let rel = path?.replace(/^\/+/, '');
  if (http.urlPrefix !== undefined) {
    if (!file.startsWith(http.urlPrefix)) {
      return { ok: true, note: true, what: `${who}: boot file ${file} is outside --http-url-prefix ${http.urlPrefix}; not checked` };
    }
    rel = safeDecode(file.slice(http.urlPrefix.length).replace(/[?#].*$/, ''));
  }
  const port = url.port === '' ? 80 : Number(url.port);
  const portNote = http.port !== undefined && port !== http.port ? ` (but the URL's port is ${port} and netboot serves HTTP on ${http.port})` : '';
  if (rel !== undefined && (await fileUnderRoot(http.root, rel))) {
    return { ok: !portNote, what: `${who}: boot file ${file} is ${rel} under the HTTP root ${http.root}${portNote}`, fix: portNote ? `use port ${http.port} in the URL, or serve HTTP on ${port}` : undefined };
  }
  return { ok: false, what: `${who}: boot file ${file} is not under the HTTP root ${http.root} (looked for ${rel ?? url.pathname})`, fix: `copy it to ${join(http.root, rel ?? '')}, or point --http-root/--http-url-prefix at where the URL is served from` };
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
