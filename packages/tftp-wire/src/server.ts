import type { Socket } from 'node:dgram';
import { close, write } from 'node:fs';
import { promisify } from 'node:util';
import { isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { printable, RateLimitedLog } from '@netboot/log-text';
import { ErrorCode, MAX_BLKSIZE, Opcode } from './constants.js';
import { decode } from './decode.js';
import { encode } from './encode.js';
import { NetasciiDecoder, toNetascii } from './netascii.js';
import { BufferPool, OpenFileCache, readAt } from './open-file-cache.js';
import { negotiateOptions } from './options.js';
import { transferMode, type RequestPacket, type TftpOption, type TftpPacket } from './packet.js';
import { TftpReceiver } from './receiver.js';
import type { Remap } from './remap.js';
import { ServedRoot, type Refusal, type Upload } from './served-root.js';
import { TftpSender } from './sender.js';
import { FileSource, MemorySource } from './sources.js';
import { TftpWireError } from './tftp-wire-error.js';
import { TransferThreads, type ThreadJob } from './transfer-threads.js';
import { bindUdp } from './udp.js';
import type { WindowShape } from './window-script.js';
import { defaultTransportKind, openTransfer, type TransferTransport, type TransportKind } from './transport.js';
import { defaultRetry, type Logger, type LogLevel, type Outcome, type RetryPolicy } from './transfer.js';
import { TransferPacing, type SlotLoad } from './transfer-pacing.js';
import { now, TransferDriver, type DataSink, type DataSource, type DoneAction } from './transfer-driver.js';

export interface TftpServerOptions {
  /** The directory served; every path resolves inside it (see resolveUnderRoot). */
  root: string;
  /** Listen address; default `::` (IPv6 and IPv4), falling back to 0.0.0.0 without IPv6. */
  address?: string;
  /** Default 69; 0 picks a free port. */
  port?: number;
  /** Largest blksize agreed to (default 65464). */
  blksizeMax?: number;
  /** Largest windowsize agreed to (default 64). */
  windowMax?: number;
  remap?: Remap;
  /** Accept WRQ: create new files, overwrite existing ones only if world-writable (tftp-hpa's -c). */
  create?: boolean;
  /** Concurrent transfers; requests over the cap are answered with an ERROR (default 256), or wait with `pacing`. */
  maxTransfers?: number;
  /**
   * Pace a boot storm instead of refusing it: a request over `maxTransfers`
   * waits for a slot (its client's retransmits only keep its place), a freed
   * slot goes to the node running fewest transfers, and only a full queue
   * (`queueMax`, default 4 x maxTransfers) is answered "Server busy". A
   * waiting request its client stopped repeating for `waitMs` (default 10 s)
   * is forgotten. See TransferPacing.
   */
  pacing?: { queueMax?: number; waitMs?: number };
  retry?: RetryPolicy;
  /** Netascii files are converted in memory; larger ones are refused (default 16 MiB). */
  maxNetasciiBytes?: number;
  /** Largest upload accepted (default 4 GiB). */
  maxUploadBytes?: number;
  /**
   * Worker threads that run binary (octet) read transfers, the boot path
   * (default: the number of cores, at most 4); 0 runs every transfer on the
   * main thread. Uploads and netascii reads always run there.
   */
  threads?: number;
  /**
   * How read transfers move datagrams: 'native' (the platform module's
   * socket, recvmmsg/sendmmsg batches; the default where it loaded) or
   * 'dgram' (node:dgram, one system call a datagram; the default in
   * portable mode). Uploads always use dgram.
   */
  transport?: TransportKind;
  log?: Logger;
  /**
   * Told of each request once it is taken up (after duplicates and the
   * transfer cap), and of how it ended: refused, or done (boot monitoring).
   * Never per block.
   */
  onTransfer?: (e: TftpTransferEvent) => void;
}

/** A request and its end, as boot monitoring sees them. `filename` is as the client sent it. */
export type TftpTransferEvent =
  | { phase: 'request'; kind: 'RRQ' | 'WRQ'; client: string; filename: string; options: readonly TftpOption[] }
  | {
      phase: 'done';
      kind: 'RRQ' | 'WRQ';
      client: string;
      filename: string;
      /** `refused`: answered with an ERROR before any data (not found, access). */
      outcome: Outcome | 'refused';
      reason: string;
      bytes: number;
      seconds: number;
      blksize: number;
      /** Times the data was sent again after a timeout. */
      retransmits: number;
    };

interface Active {
  key: string;
  /** Ends the transfer; `tell` sends the client an ERROR with `code` and `message`. */
  abort(code: number, message: string, tell?: boolean): void;
}

const writeAsync = promisify(write);
const closeAsync = promisify(close);

/** Receive buffer of the request socket: room for a burst of a few thousand requests. */
const REQUEST_BUFFER_BYTES = 4 * 1024 * 1024;

/** Strips the IPv4-mapped prefix so logs and remap rules see 192.0.2.1, not ::ffff:192.0.2.1. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** A request taken up but not yet set up: what a paced one waits with. */
interface PendingRequest {
  p: RequestPacket;
  address: string;
  port: number;
  key: string;
  kind: 'RRQ' | 'WRQ';
  who: string;
}

/** A TFTP server: a drop-in for `in.tftpd -l -v -s ROOT`, one socket per transfer. */
export class TftpServer {
  private socket: Socket | undefined;
  private root: ServedRoot | undefined;
  private readonly active = new Set<Active>();
  /** Requests being set up (stat, open, bind), by client and name. */
  private readonly starting = new Set<string>();
  private readonly cache = new OpenFileCache();
  private readonly pool = new BufferPool();
  private readonly limiter: RateLimitedLog<LogLevel>;
  private readonly log: Logger;
  private listenFamily: 'udp4' | 'udp6' = 'udp6';
  private bindAddress = '::';
  private remap: Remap | undefined;
  private readonly threads: TransferThreads | undefined;
  private readonly transportKind: TransportKind;
  private readonly pacing: TransferPacing<PendingRequest> | undefined;
  /** Keys of the requests holding a pacing slot, from their start to their transfer's end. */
  private readonly slotHolders = new Set<string>();

  constructor(private readonly opts: TftpServerOptions) {
    if (opts.pacing) this.pacing = new TransferPacing({ slots: opts.maxTransfers ?? 256, ...opts.pacing });
    const sink = opts.log ?? (() => {});
    this.log = (level, message) => sink(level, printable(message));
    this.limiter = new RateLimitedLog((message, level) => this.log(level, message), { now });
    this.remap = opts.remap;
    this.transportKind = opts.transport ?? defaultTransportKind();
    const threads = opts.threads ?? Math.min(4, availableParallelism());
    this.threads = threads > 0 ? new TransferThreads(threads, this.log) : undefined;
  }

  /** Transfers running and waiting against the slots (with `pacing`; without, nothing waits). */
  transferLoad(): SlotLoad {
    if (this.pacing) return this.pacing.load();
    return { active: this.active.size + this.starting.size, waiting: 0, slots: this.opts.maxTransfers ?? 256 };
  }

  /** New remap rules (SIGHUP) for requests from now on; transfers under way keep their file. */
  setRemap(remap: Remap | undefined): void {
    this.remap = remap;
  }

  /** Binds the listening socket; resolves with the bound address and port. */
  async listen(): Promise<{ address: string; port: number; family: string }> {
    this.root = await ServedRoot.start(this.opts.root, (message) => this.log('warning', message));
    const port = this.opts.port ?? 69;
    const want = this.opts.address;
    if (want === undefined) {
      try {
        this.socket = await bindUdp('udp6', '::', port, false);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT' && (err as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL') throw err;
        this.listenFamily = 'udp4';
        this.bindAddress = '0.0.0.0';
        this.socket = await bindUdp('udp4', '0.0.0.0', port, false);
      }
    } else {
      this.listenFamily = isIPv6(want) ? 'udp6' : 'udp4';
      this.bindAddress = want;
      this.socket = await bindUdp(this.listenFamily, want, port, want === '::' ? false : true);
    }
    // A room of nodes powered on together sends its requests in one burst; the default
    // receive buffer (about 200 KiB, some 300 requests) would drop the rest unanswered.
    try {
      this.socket.setRecvBufferSize(REQUEST_BUFFER_BYTES);
    } catch {
      // Capped by net.core.rmem_max or refused: the kernel's size stays.
    }
    this.threads?.warm();
    this.socket.on('message', (msg, rinfo) => void this.onRequest(msg, rinfo.address, rinfo.port));
    this.socket.on('error', (err) => this.limiter.log('listen', `listening socket: ${err.message}`, 'warning'));
    const a = this.socket.address();
    return { address: a.address, port: a.port, family: a.family };
  }

  get transfers(): number {
    return this.active.size;
  }

  async close(): Promise<void> {
    for (const a of [...this.active]) a.abort(ErrorCode.NOT_DEFINED, 'server shutting down');
    this.active.clear();
    if (this.socket) await new Promise<void>((r) => this.socket!.close(() => r()));
    this.socket = undefined;
    await this.threads?.close(ErrorCode.NOT_DEFINED, 'server shutting down');
    await this.cache.close();
    this.root?.close();
    this.root = undefined;
  }

  private reply(address: string, port: number, code: number, message: string): void {
    this.socket?.send(encode({ op: Opcode.ERROR, code, message }), port, address);
  }

  private async onRequest(msg: Buffer, address: string, port: number): Promise<void> {
    const who = plainAddress(address);
    let p: TftpPacket;
    try {
      p = decode(msg);
    } catch (err) {
      if (!(err instanceof TftpWireError)) throw err;
      this.limiter.log('malformed', `malformed request from ${who}:${port}: ${err.message}`, 'warning');
      this.reply(address, port, ErrorCode.ILLEGAL_OPERATION, 'Malformed request');
      return;
    }
    if (p.op !== Opcode.RRQ && p.op !== Opcode.WRQ) {
      this.limiter.log('not-request', `opcode ${p.op} from ${who}:${port} on the request port: answered ERROR 4`, 'debug');
      this.reply(address, port, ErrorCode.ILLEGAL_OPERATION, 'Expected a read or write request');
      return;
    }
    const peer = `${address}|${port}`;
    const key = `${peer}|${p.op}|${p.filename}|${p.mode}|${p.options.map((o) => `${o.name}=${o.value}`).join(',')}`;
    // The client repeated its request: the transfer being set up or running answers it.
    if (this.starting.has(key)) return;
    for (const a of this.active) {
      if (a.key === key) return;
      // A different request from the same port (UEFI asking again after its tsize probe, the
      // ERROR 8 lost) replaces the old transfer, which the client has given up on.
      if (a.key.startsWith(`${peer}|`)) a.abort(ErrorCode.NOT_DEFINED, 'superseded by a new request from the same port', false);
    }
    const kind = p.op === Opcode.RRQ ? 'RRQ' : 'WRQ';
    const max = this.opts.maxTransfers ?? 256;
    const request: PendingRequest = { p, address, port, key, kind, who };
    if (this.pacing) {
      const admission = this.pacing.admit(key, who, request, now());
      if (admission === 'waiting') return;
      if (admission === 'wait') {
        this.limiter.log('waiting', `${kind} from ${who} filename ${p.filename} waits for a transfer slot (${max} in progress)`, 'info');
        return;
      }
      if (admission === 'start') {
        this.slotHolders.add(key);
        return this.run(request);
      }
    }
    if (this.pacing || this.active.size + this.starting.size >= max) {
      const waiting = this.pacing ? ` and ${this.pacing.load().waiting} waiting` : '';
      this.limiter.log('busy', `${kind} from ${who} filename ${p.filename} refused: ${max} transfers in progress${waiting}`, 'warning');
      this.reply(address, port, ErrorCode.NOT_DEFINED, `Server busy (${max} transfers), try again`);
      return;
    }
    return this.run(request);
  }

  private async run(r: PendingRequest): Promise<void> {
    const { p, address, port, key, kind, who } = r;
    this.starting.add(key);
    try {
      await this.setup(p, address, port, key, kind, who);
    } catch (err) {
      this.log('warning', `${kind} from ${who} filename ${p.filename}: ${(err as Error).message}`);
      this.reply(address, port, ErrorCode.NOT_DEFINED, 'Internal error');
      this.opts.onTransfer?.({ phase: 'done', kind, client: who, filename: p.filename, outcome: 'failed', reason: 'Internal error', bytes: 0, seconds: 0, blksize: 512, retransmits: 0 });
    } finally {
      this.starting.delete(key);
      // Refused or failed before a transfer began: its slot is free now (a transfer frees it when it ends).
      if (![...this.active].some((a) => a.key === key)) this.freeSlot(key, who);
    }
  }

  /** A paced request's transfer ended (or never began): its slot goes to the fairest waiting request. */
  private freeSlot(key: string, who: string): void {
    if (!this.pacing || !this.slotHolders.delete(key)) return;
    for (const next of this.pacing.release(who, now())) {
      this.slotHolders.add(next.key);
      void this.run(next);
    }
  }

  private async setup(p: RequestPacket, address: string, port: number, key: string, kind: 'RRQ' | 'WRQ', who: string): Promise<void> {
    const mode = transferMode(p.mode);
    let name = p.filename;
    this.opts.onTransfer?.({ phase: 'request', kind, client: who, filename: p.filename, options: p.options });
    const refuse = (code: number, message: string, level: 'info' | 'warning' = 'warning') => {
      this.log(level, `${kind} from ${who} filename ${p.filename}: ${message}`);
      this.reply(address, port, code, message);
      this.opts.onTransfer?.({ phase: 'done', kind, client: who, filename: p.filename, outcome: 'refused', reason: message, bytes: 0, seconds: 0, blksize: 512, retransmits: 0 });
    };
    if (this.remap) {
      const r = this.remap.apply(name, { op: kind === 'RRQ' ? 'get' : 'put', address: who });
      if (r.refused) {
        this.log('info', `${kind} from ${who} filename ${p.filename}`);
        return refuse(ErrorCode.ACCESS_VIOLATION, `Access violation (${r.reason})`);
      }
      if (r.name !== name) {
        this.log('info', `${kind} from ${who} filename ${p.filename} remapped to ${r.name}`);
        name = r.name;
      } else {
        this.log('info', `${kind} from ${who} filename ${p.filename}`);
      }
    } else {
      this.log('info', `${kind} from ${who} filename ${p.filename}`);
    }
    if (!mode) return refuse(ErrorCode.ILLEGAL_OPERATION, `Unsupported mode "${p.mode}" (use octet or netascii)`);
    if (kind === 'WRQ' && !this.opts.create) {
      return refuse(ErrorCode.ACCESS_VIOLATION, 'Access violation: uploads are disabled on this server');
    }
    // Names are bytes on the wire; the file system gets them as UTF-8 when they are.
    const utf8 = Buffer.from(name, 'latin1').toString('utf8');
    const fsName = Buffer.from(utf8, 'utf8').equals(Buffer.from(name, 'latin1')) ? utf8 : name;
    const root = this.root;
    if (!root) return refuse(ErrorCode.NOT_DEFINED, 'server shutting down');
    const retry = this.opts.retry ?? defaultRetry;
    const limits = { blksizeMax: Math.min(this.opts.blksizeMax ?? MAX_BLKSIZE, MAX_BLKSIZE), windowMax: this.opts.windowMax ?? 64 };
    const refusal = (r: Refusal) => {
      if (r.reason === 'not-found') return refuse(ErrorCode.FILE_NOT_FOUND, kind === 'WRQ' ? 'File not found (no such directory)' : 'File not found', 'info');
      if (r.reason === 'not-file') return refuse(ErrorCode.FILE_NOT_FOUND, 'File not found (not a regular file)', 'info');
      return refuse(ErrorCode.ACCESS_VIOLATION, `Access violation: ${r.detail}`);
    };

    if (kind === 'RRQ') {
      // Opened beneath the root once; everything after acts on this descriptor, never on the name.
      const opened = await root.openRead(fsName);
      if (!opened.ok) return refusal(opened);
      const st = opened.stats;
      if (this.threads && mode === 'octet') {
        const n = negotiateOptions(p.options, 'read', limits, st.size);
        const identity = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
        await this.begin({ kind, who, address, port, key, filename: p.filename, settings: n.settings, oack: n.oack, thread: { fd: opened.fd, identity, serve: n, retry } });
        return;
      }
      const file = this.cache.adopt(opened.fd, st);
      let size = file.size;
      let source: DataSource;
      const n0 = negotiateOptions(p.options, 'read', limits, size);
      if (mode === 'netascii') {
        const max = this.opts.maxNetasciiBytes ?? 16 * 1024 * 1024;
        if (size > max) {
          this.cache.release(file);
          return refuse(ErrorCode.NOT_DEFINED, `File too large for netascii mode (over ${max} bytes); use octet`);
        }
        const raw = Buffer.allocUnsafe(size);
        try {
          for (let got = 0; got < size; ) {
            const bytesRead = await readAt(file, raw, got, size - got, got);
            if (bytesRead === 0) throw new Error(`the file shrank to ${got} bytes while being read`);
            got += bytesRead;
          }
        } finally {
          this.cache.release(file);
        }
        const converted = toNetascii(raw);
        size = converted.length;
        source = new MemorySource(converted);
      } else {
        source = new FileSource(file, this.cache, this.pool, n0.settings.blksize, n0.settings.windowsize);
      }
      const n = mode === 'netascii' ? negotiateOptions(p.options, 'read', limits, size) : n0;
      const machine = new TftpSender({ size, serve: n, retry });
      const windows = { size, blksize: n.settings.blksize, windowsize: n.settings.windowsize };
      await this.begin({ kind, who, address, port, key, filename: p.filename, machine, source, windows, settings: n.settings, oack: n.oack });
      return;
    }

    // WRQ: new files, or existing world-writable ones (tftp-hpa's rule), via a temporary file
    // created beneath the target's directory and renamed over the name at the end.
    const created = await root.createUpload(fsName);
    if (!created.ok) return refusal(created);
    const upload: Upload = created;
    const n = negotiateOptions(p.options, 'write', limits);
    const maxBytes = this.opts.maxUploadBytes ?? 4 * 1024 ** 3;
    if (n.settings.tsize !== undefined && n.settings.tsize > maxBytes) {
      await closeAsync(upload.fd).catch(() => {});
      await upload.discard().catch(() => {});
      return refuse(ErrorCode.DISK_FULL, `Disk full or allocation exceeded (limit ${maxBytes} bytes)`);
    }
    const sink = new FileSink(upload.fd, mode === 'netascii');
    const machine = new TftpReceiver({ serve: n, retry, maxBytes });
    await this.begin({
      kind,
      who,
      address,
      port,
      key,
      filename: p.filename,
      machine,
      sink,
      settings: n.settings,
      oack: n.oack,
      settle: async () => {
        try {
          await sink.finish();
          await upload.commit();
          return undefined;
        } catch (err) {
          await upload.discard().catch(() => {});
          return `cannot store the file: ${(err as Error).message}`;
        }
      },
      discard: () => void sink.finish().catch(() => {}).then(() => upload.discard()).catch(() => {}),
      // A client that lost the final ACK resends its last block, backing off; staying for twice the
      // longest retransmission interval answers several such resends (one was too few at 30% loss).
      dallyMs: retry.maxMs * 2,
    });
  }

  private async begin(t: {
    kind: 'RRQ' | 'WRQ';
    who: string;
    address: string;
    port: number;
    key: string;
    filename: string;
    machine?: TftpSender | TftpReceiver;
    /** A read to run on a transfer thread instead of `machine`. */
    thread?: Pick<ThreadJob, 'fd' | 'identity' | 'serve' | 'retry'>;
    source?: DataSource;
    windows?: WindowShape;
    sink?: FileSink;
    settings: { blksize: number; windowsize: number };
    oack: TftpOption[];
    settle?: () => Promise<string | undefined>;
    discard?: () => void;
    dallyMs?: number;
  }): Promise<void> {
    // An IPv4 client reached through the dual-stack socket gets a plain IPv4 transfer socket.
    const mapped = this.listenFamily === 'udp6' && t.address !== t.who;
    const family = mapped ? 'udp4' : this.listenFamily;
    const local = mapped ? '0.0.0.0' : this.bindAddress;
    const sendBufferBytes = Math.min(4 * 1024 * 1024, Math.max(256 * 1024, 2 * t.settings.blksize * t.settings.windowsize));
    const oack = t.oack.map((o) => `${o.name}=${o.value}`).join(' ');
    const first = t.kind === 'RRQ' ? 'DATA 1' : 'ACK 0';
    const started = now();
    const verb = t.kind === 'RRQ' ? 'sent' : 'received';
    const entry: Active = { key: t.key, abort: () => {} };
    const onDone = (d: DoneAction) => {
      this.active.delete(entry);
      this.freeSlot(t.key, t.who);
      const seconds = ((now() - started) / 1000).toFixed(3);
      const line = (reason: string, level: 'debug' | 'info' | 'warning', bytes: number) =>
        this.log(level, `${t.kind} from ${t.who} filename ${t.filename}: ${reason}, ${bytes} bytes in ${seconds} s`);
      if (d.outcome !== 'complete') t.discard?.();
      line(d.outcome === 'complete' ? verb : d.reason, d.level, d.bytes);
      this.opts.onTransfer?.({
        phase: 'done',
        kind: t.kind,
        client: t.who,
        filename: t.filename,
        outcome: d.outcome,
        reason: d.reason,
        bytes: d.bytes,
        seconds: (now() - started) / 1000,
        blksize: t.settings.blksize,
        retransmits,
      });
    };
    // Counted from the sender's own line, which comes only on a timeout: nothing per block.
    let retransmits = 0;
    const onLog = (level: 'debug' | 'info' | 'warning', message: string) => {
      if (message.startsWith('timeout, resending')) retransmits++;
      this.log(level, `${t.kind} from ${t.who} filename ${t.filename}: ${message}`);
    };
    onLog('debug', oack ? `OACK ${oack}` : `no options, ${first} directly`);
    if (t.thread && this.threads) {
      const abort = this.threads.start({ ...t.thread, family, local, address: t.who, port: t.port, sendBufferBytes, transport: this.transportKind }, { onDone, onLog });
      entry.abort = (code, message, tell = true) => abort(code, message, tell);
      this.active.add(entry);
      return;
    }
    let transport: TransferTransport;
    try {
      // A receiver's DATA views would outlive the native slab, which each batch rewrites.
      const kind = t.sink ? 'dgram' : this.transportKind;
      transport = await openTransfer(kind, family, local, sendBufferBytes, { address: t.who, port: t.port });
    } catch (err) {
      t.source?.close();
      t.discard?.();
      throw err;
    }
    const driver = new TransferDriver(transport, { address: t.who, port: t.port }, t.machine!, {
      source: t.source,
      sink: t.sink,
      limiter: this.limiter,
      onDone,
      onLog,
      dallyMs: t.dallyMs,
      settle: t.settle,
      windows: t.windows,
    });
    entry.abort = (code, message, tell) => driver.abort(code, message, tell);
    if (t.sink) t.sink.onFailure = (err) => driver.abort(ErrorCode.DISK_FULL, `Disk full or allocation exceeded (${err.message})`);
    this.active.add(entry);
    driver.start();
  }
}

/** Writes an upload at its offsets (octet) or in order through the netascii decoder. */
class FileSink implements DataSink {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly decoder: NetasciiDecoder | undefined;
  private position = 0;
  private failure: Error | undefined;
  private finished: Promise<void> | undefined;
  /** Told of the first failed write, so the transfer can end with ERROR 3 at once. */
  onFailure: (err: Error) => void = () => {};

  constructor(
    private readonly fd: number,
    netascii: boolean,
  ) {
    this.decoder = netascii ? new NetasciiDecoder() : undefined;
  }

  write(offset: number, data: Buffer): void {
    if (this.decoder) {
      const text = this.decoder.push(data);
      this.queue(text, this.position);
      this.position += text.length;
    } else {
      // Node does not reuse a datagram's buffer, so the view stays valid until written.
      this.queue(data, offset);
    }
  }

  private queue(data: Buffer, at: number): void {
    if (data.length === 0 || this.failure) return;
    const w: Promise<unknown> = writeAsync(this.fd, data, 0, data.length, at).then(
      () => this.pending.delete(w),
      (err: Error) => {
        this.pending.delete(w);
        if (!this.failure) {
          this.failure = err;
          this.onFailure(err);
        }
      },
    );
    this.pending.add(w);
  }

  /** Waits for the writes and closes the file, once however often it is called (settle, then discard on a failure). */
  finish(): Promise<void> {
    this.finished ??= this.drain();
    return this.finished;
  }

  private async drain(): Promise<void> {
    if (this.decoder) this.queue(this.decoder.end(), this.position);
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await closeAsync(this.fd);
    if (this.failure) throw this.failure;
  }
}
