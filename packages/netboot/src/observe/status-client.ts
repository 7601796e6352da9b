import type { NodeRow } from './node-row.js';

/** Where `netboot status` looks when no --url is given: a `netboot serve --status-port 9469` on this host. */
export const DEFAULT_STATUS_URL = 'http://127.0.0.1:9469';

export interface StatusClientOptions {
  url: string;
  token?: string;
}

function headers(o: StatusClientOptions): Record<string, string> {
  return o.token ? { Authorization: `Bearer ${o.token}` } : {};
}

function explain(o: StatusClientOptions, e: unknown): Error {
  const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
  return new Error(`cannot reach the status port at ${o.url} (${cause}): is netboot serve running with --status-port? (give its address with --url)`);
}

/** GET a JSON document from the status port. */
export async function getJson<T>(o: StatusClientOptions, path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, o.url), { headers: headers(o), signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw explain(o, e);
  }
  if (res.status === 403) throw new Error(`${o.url} refused the request: give the status token with --token (or NETBOOT_STATUS_TOKEN)`);
  if (!res.ok) throw new Error(`${o.url}${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/**
 * Calls `onChange` for every change the server streams (/api/events) until
 * `signal` aborts; resolves then, rejects when the stream breaks.
 */
export async function watchEvents(o: StatusClientOptions, signal: AbortSignal, onChange: (row: NodeRow) => void): Promise<void> {
  let res: Response;
  try {
    res = await fetch(new URL('/api/events', o.url), { headers: headers(o), signal });
  } catch (e) {
    if (signal.aborted) return;
    throw explain(o, e);
  }
  if (!res.ok || !res.body) throw new Error(`${o.url}/api/events: HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!message.startsWith('event: node\n')) continue;
        const data = message.split('\n').find((l) => l.startsWith('data: '));
        if (data) onChange((JSON.parse(data.slice(6)) as { row: NodeRow }).row);
      }
      // A message never ends: the server is not a status port.
      if (buffered.length > 1 << 20) throw new Error(`${o.url}/api/events: a message over 1 MiB`);
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}

const secs = (ms: number) => (ms / 1000).toFixed(1);

/** Seconds per stage of a node's last boot, as `dhcp 3.1 loader 2.0 ...`; the current stage counts to `now`. */
export function stageSeconds(stages: NodeRow['stages'], now: number): string {
  return stages
    .filter((s) => s.name !== 'off')
    .map((s) => `${s.name} ${secs((s.end ?? now) - s.start)}`)
    .join(' ');
}

/** `deb:2`; `deb:1 old (next boot 2)` for a node still on an old generation; `pinned` for a canary. */
export function imageCell(i: NodeRow['image']): string {
  if (!i) return '-';
  return `${i.name}:${i.generation}${i.old ? ` old (next boot ${i.next})` : ''}${i.pinned ? ' pinned' : ''}`;
}

/** The nodes as a table, one row each, sorted by MAC (then IP). */
export function statusTable(rows: NodeRow[], now: number): string {
  const head = ['MAC', 'IP', 'NAME', 'FIRMWARE', 'IMAGE', 'STAGE', 'SECONDS PER STAGE (LAST BOOT)', 'BOOTS', 'LAST ERROR / DOCTOR'];
  const body = [...rows]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((r) => [
      r.mac ?? '-',
      r.ip ?? '-',
      r.name ?? '-',
      r.firmware,
      imageCell(r.image),
      r.stage === 'lost' && r.lostFrom ? `lost(${r.lostFrom})` : r.stage,
      stageSeconds(r.stages, now) || '-',
      String(r.bootCount),
      r.diagnosis[0]?.text ?? r.lastError?.text ?? '',
    ]);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => (i === head.length - 1 ? 0 : r[i].length))));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ').trimEnd()).join('\n');
}
