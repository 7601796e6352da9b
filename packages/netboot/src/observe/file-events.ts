import { open } from 'node:fs/promises';
import type { BootEvent, TransferOutcome } from '@netboot/boot-events';
import type { HttpExchange } from '@netboot/http-boot';
import { realRoot, resolveUnderRoot, type TftpTransferEvent } from '@netboot/tftp-wire';

const DEFAULT_INIT = '/sbin/init';
/** Nodes whose init path is remembered; the oldest is forgotten past this. */
const MAX_NODES = 4096;
/** A pxelinux config larger than this is not read for init=. */
const MAX_CONFIG = 64 * 1024;

/** `init=` on an APPEND line of a pxelinux config (not rdinit=, the initramfs' own). */
export function initFromPxelinux(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (!/^\s*append\s/i.test(line)) continue;
    const m = /(?:^|\s)init=(\/\S*)/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

function tftpOutcome(e: Extract<TftpTransferEvent, { phase: 'done' }>): TransferOutcome {
  if (e.outcome === 'complete') return 'complete';
  if (e.outcome === 'declined') return 'probe';
  if (e.outcome === 'refused') return 'refused';
  if (/final ACK/.test(e.reason)) return 'unconfirmed';
  return /timed out/.test(e.reason) ? 'timeout' : 'error';
}

function httpFile(target: string): string {
  const path = target.split('?')[0];
  try {
    return decodeURIComponent(path).replace(/^\/+/, '');
  } catch {
    return path.replace(/^\/+/, '');
  }
}

/**
 * TFTP and HTTP callbacks into boot events: one at a request, one at its
 * end, never per block. Counts transfers under way, and reads the pxelinux
 * config a node fetched for the `init=` its kernel will run.
 */
export class FileEvents {
  readonly active = { tftp: 0, http: 0 };
  private readonly initPaths = new Map<string, string>();
  private root: Promise<string> | undefined;

  constructor(
    private readonly emit: (e: BootEvent) => void,
    private readonly tftpRoot: string | undefined,
  ) {}

  /** The init a node's kernel will run: from its pxelinux config's APPEND line, else /sbin/init. */
  initPathOf(ip: string): string {
    return this.initPaths.get(ip) ?? DEFAULT_INIT;
  }

  readonly tftp = (e: TftpTransferEvent): void => {
    if (e.kind !== 'RRQ') return;
    const at = Date.now();
    if (e.phase === 'request') {
      this.active.tftp++;
      const options: Record<string, string> = {};
      for (const o of e.options) options[o.name.toLowerCase()] = o.value;
      this.emit({ kind: 'file-request', at, protocol: 'tftp', ip: e.client, file: e.filename, options });
      return;
    }
    this.active.tftp = Math.max(0, this.active.tftp - 1);
    const outcome = tftpOutcome(e);
    this.emit({ kind: 'file-done', at, protocol: 'tftp', ip: e.client, file: e.filename, outcome, bytes: e.bytes, seconds: e.seconds, blksize: e.blksize, retransmits: e.retransmits || undefined, detail: outcome === 'complete' ? undefined : e.reason });
    if (outcome === 'complete') this.learnInit(e.client, e.filename);
  };

  readonly http = (e: HttpExchange): void => {
    const at = Date.now();
    const file = httpFile(e.target);
    if (e.phase === 'request') {
      this.active.http++;
      this.emit({ kind: 'file-request', at, protocol: 'http', ip: e.client, file });
      return;
    }
    this.active.http = Math.max(0, this.active.http - 1);
    const ok = e.status >= 200 && e.status < 300;
    const outcome: TransferOutcome = e.method === 'HEAD' && ok ? 'probe' : ok ? (e.complete ? 'complete' : 'error') : e.status < 500 ? 'refused' : 'error';
    this.emit({ kind: 'file-done', at, protocol: 'http', ip: e.client, file, outcome, bytes: e.bytes, seconds: e.seconds, detail: ok && e.complete ? undefined : e.complete ? `HTTP ${e.status}` : 'the client went away' });
    if (outcome === 'complete') this.learnInit(e.client, file);
  };

  private learnInit(ip: string, file: string): void {
    if (!this.tftpRoot || !/(^|\/)pxelinux\.cfg\//.test(file)) return;
    void this.readInit(this.tftpRoot, file).then((init) => {
      if (!init) return;
      this.initPaths.delete(ip);
      this.initPaths.set(ip, init);
      if (this.initPaths.size > MAX_NODES) this.initPaths.delete(this.initPaths.keys().next().value!);
    });
  }

  private async readInit(root: string, file: string): Promise<string | undefined> {
    try {
      // The same confinement as the transfer itself: nothing outside the root is read.
      this.root ??= realRoot(root);
      const r = await resolveUnderRoot(await this.root, file);
      if (!r.ok || !r.exists) return undefined;
      const h = await open(r.path, 'r');
      try {
        const buf = Buffer.alloc(MAX_CONFIG);
        const { bytesRead } = await h.read(buf, 0, MAX_CONFIG, 0);
        return initFromPxelinux(buf.toString('utf8', 0, bytesRead));
      } finally {
        await h.close();
      }
    } catch {
      return undefined;
    }
  }
}
