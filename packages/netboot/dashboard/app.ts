// The status dashboard: the live nodes table (server-sent events), counts per
// stage, and for the selected node the waterfall of its last boot and its
// event log. Plain DOM, no framework; the table renders only the rows in view,
// so a thousand nodes scroll like ten.

import type { BootEvent } from '@netboot/boot-events';
// The server's own types (through this project's reference to the netboot package), so the page cannot drift from what it is sent.
import type { NodeRow as Row, NodeView as NodeDetail } from '../src/observe/node-row.js';

const STAGES = ['off', 'dhcp', 'loader', 'kernel', 'mounted', 'init', 'up', 'lost'];
const ROW_HEIGHT = 24;
const OVERSCAN = 10;

const token = new URLSearchParams(location.search).get('token');
const withToken = (path: string) => (token ? `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : path);

const rows = new Map<string, Row>();
let order: string[] = [];
let shown: string[] = [];
let selected: string | null = null;
let filter = '';
let frame = 0;
let detailTimer: number | undefined;

const $ = (id: string) => document.getElementById(id)!;
const viewport = $('viewport');
const spacer = $('spacer');

function el(tag: string, cls?: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const secs = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);

function stageSeconds(r: Row, now: number): string {
  return r.stages
    .filter((s) => s.name !== 'off')
    .map((s) => `${s.name} ${secs((s.end ?? now) - s.start)}`)
    .join(' · ');
}

function matches(r: Row): boolean {
  if (!filter) return true;
  return [r.mac, r.ip, r.name, r.stage, r.firmware].some((v) => v !== null && v.toLowerCase().includes(filter));
}

/** Re-renders on the next frame, once however many events arrived meanwhile. */
function schedule(): void {
  if (!frame) frame = requestAnimationFrame(render);
}

function render(): void {
  frame = 0;
  const now = Date.now();
  shown = order.filter((k) => matches(rows.get(k)!));
  spacer.style.height = `${shown.length * ROW_HEIGHT}px`;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW_HEIGHT) + OVERSCAN);
  const fragment = document.createDocumentFragment();
  for (let i = first; i < last; i++) {
    const r = rows.get(shown[i])!;
    const row = el('div', `row${r.key === selected ? ' selected' : ''}`);
    row.style.position = 'absolute';
    row.style.top = `${i * ROW_HEIGHT}px`;
    row.style.left = '0';
    row.style.right = '0';
    row.dataset.key = r.key;
    row.dataset.stage = r.stage;
    row.append(el('span', '', r.mac ?? '-'), el('span', '', r.ip ?? '-'), el('span', '', r.name ?? ''), el('span', '', r.firmware));
    const st = el('span');
    st.append(el('span', `stage s-${r.stage}`, r.stage === 'lost' && r.lostFrom ? `lost (${r.lostFrom})` : r.stage));
    row.append(st, el('span', 'muted', stageSeconds(r, now)), el('span', '', String(r.bootCount)));
    const problem = r.diagnosis[0]?.text ?? r.lastError?.text ?? '';
    const p = el('span', r.diagnosis.length ? 'err' : 'muted', problem);
    p.title = problem;
    row.append(p);
    fragment.append(row);
  }
  spacer.replaceChildren(fragment);
  const counts = new Map(STAGES.map((s) => [s, 0]));
  for (const r of rows.values()) counts.set(r.stage, (counts.get(r.stage) ?? 0) + 1);
  const chips = STAGES.map((s) => {
    const c = el('span', 'chip');
    c.dataset.stageCount = s;
    c.append(`${s} `, el('b', '', String(counts.get(s))));
    return c;
  });
  const total = el('span', 'chip');
  total.dataset.stageCount = 'all';
  total.append('nodes ', el('b', '', String(rows.size)));
  $('counts').replaceChildren(total, ...chips);
}

function upsert(r: Row): void {
  if (!rows.has(r.key)) order.push(r.key);
  rows.set(r.key, r);
}

async function loadRows(): Promise<void> {
  const res = await fetch(withToken('/api/nodes?view=rows'));
  const body = (await res.json()) as { nodes: Row[] };
  rows.clear();
  order = [];
  for (const r of body.nodes.sort((a, b) => a.key.localeCompare(b.key))) upsert(r);
  schedule();
}

function waterfall(d: NodeDetail, now: number): HTMLElement {
  const wrap = el('div', 'wf');
  const boot = d.boot;
  if (!boot || boot.timeline.length === 0) return el('p', 'muted', 'no boot seen yet');
  const start = boot.start;
  const end = Math.max(now, ...boot.timeline.map((x) => x.end ?? now)) - start || 1;
  for (const x of boot.timeline) {
    const line = el('div', 'wf-row');
    line.dataset.what = x.what;
    const took = (x.end ?? now) - x.start;
    const label = el('span', 'wf-label', `${x.what.toUpperCase()} ${x.label}`);
    label.title = `${x.label}: ${x.outcome ?? 'under way'}${x.bytes ? `, ${x.bytes} bytes` : ''}${x.retransmits ? `, ${x.retransmits} retransmits` : ''}, ${secs(took)} s, at +${secs(x.start - start)} s`;
    const track = el('div', 'wf-track');
    const bar = el('div', `wf-bar w-${x.what}${x.outcome ? ` o-${x.outcome}` : ''}`);
    bar.style.left = `${((x.start - start) / end) * 100}%`;
    bar.style.width = `${(took / end) * 100}%`;
    bar.title = label.title;
    track.append(bar);
    line.append(label, track);
    wrap.append(line);
  }
  return wrap;
}

function describe(e: BootEvent): string {
  const { kind, at, ...rest } = e;
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${new Date(at).toISOString().slice(11, 23)} ${kind} ${fields}`;
}

async function showDetail(): Promise<void> {
  detailTimer = undefined;
  if (!selected) return;
  const res = await fetch(withToken(`/api/nodes/${encodeURIComponent(selected)}`));
  if (!res.ok) return;
  const body = (await res.json()) as { now: number; node: NodeDetail; events: BootEvent[] };
  const d = body.node;
  const box = $('detail');
  const title = el('h2', '', `${d.name ?? d.mac ?? d.key} ${d.ip ?? ''}: ${d.stage}, boot ${d.boot?.number ?? 0}${d.boot?.duration != null ? ` in ${secs(d.boot.duration)} s` : ''}`);
  const parts: HTMLElement[] = [title];
  for (const x of d.diagnosis) parts.push(el('p', 'err', x.text));
  parts.push(el('h2', '', 'last boot'), waterfall(d, body.now), el('h2', '', 'events'));
  const log = el('div');
  log.id = 'log';
  log.textContent = body.events.map(describe).join('\n');
  parts.push(log);
  box.replaceChildren(...parts);
}

function refreshDetail(): void {
  if (detailTimer === undefined) detailTimer = window.setTimeout(() => void showDetail(), 300);
}

function connect(): void {
  const source = new EventSource(withToken('/api/events'));
  source.addEventListener('hello', () => {
    $('conn').textContent = 'live';
    void loadRows();
  });
  source.addEventListener('node', (m) => {
    const { row } = JSON.parse((m as MessageEvent<string>).data) as { row: Row };
    upsert(row);
    schedule();
    if (row.key === selected) refreshDetail();
  });
  source.onerror = () => {
    $('conn').textContent = 'reconnecting';
  };
}

viewport.addEventListener('scroll', schedule, { passive: true });
window.addEventListener('resize', schedule);
$('filter').addEventListener('input', (e) => {
  filter = (e.target as HTMLInputElement).value.trim().toLowerCase();
  schedule();
});
spacer.addEventListener('click', (e) => {
  const row = (e.target as HTMLElement).closest<HTMLElement>('.row');
  if (!row?.dataset.key) return;
  selected = row.dataset.key;
  schedule();
  void showDetail();
});
// Seconds in the current stage keep counting between events.
window.setInterval(schedule, 1000);
connect();
