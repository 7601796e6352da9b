import type { Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { RateLimitedLog } from '@netboot/log-text';
import { Opcode } from './constants.js';
import { NetasciiDecoder, toNetascii } from './netascii.js';
import type { TransferSettings } from './options.js';
import type { RequestPacket, TftpOption, TransferMode } from './packet.js';
import { TftpReceiver } from './receiver.js';
import { TftpSender } from './sender.js';
import { MemorySource } from './sources.js';
import { defaultRetry, type LogLevel, type RetryPolicy } from './transfer.js';
import { now, TransferDriver, type DoneAction } from './transfer-driver.js';
import { bindUdp } from './udp.js';
import { DgramTransport } from './transport.js';

export interface ClientOptions {
  host: string;
  port?: number;
  mode?: TransferMode;
  /** Options to ask for; omitted ones are not sent (no options at all: plain RFC 1350). */
  blksize?: number;
  windowsize?: number;
  timeout?: number;
  tsize?: boolean;
  retry?: RetryPolicy;
  /** Kernel receive buffer to ask for, so a large window is not dropped on arrival (default 4 MiB). */
  recvBufferSize?: number;
}

export interface TransferResult {
  bytes: number;
  ms: number;
  settings: TransferSettings;
}

/** A failed transfer; `code` is the TFTP error code when the server sent one. */
export class TftpClientError extends Error {
  override name = 'TftpClientError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

function requestOptions(o: ClientOptions, size?: number): TftpOption[] {
  const list: TftpOption[] = [];
  if (o.tsize) list.push({ name: 'tsize', value: String(size ?? 0) });
  if (o.blksize !== undefined) list.push({ name: 'blksize', value: String(o.blksize) });
  if (o.windowsize !== undefined) list.push({ name: 'windowsize', value: String(o.windowsize) });
  if (o.timeout !== undefined) list.push({ name: 'timeout', value: String(o.timeout) });
  return list;
}

async function openSocket(o: ClientOptions, host: string): Promise<Socket> {
  const s = await bindUdp(isIPv6(host) ? 'udp6' : 'udp4', isIPv6(host) ? '::' : '0.0.0.0', 0);
  try {
    s.setRecvBufferSize(o.recvBufferSize ?? 4 * 1024 * 1024);
  } catch {
    // the kernel's limit stands
  }
  return s;
}

function errorFrom(d: DoneAction): TftpClientError {
  const e = d.peerError;
  return e ? new TftpClientError(`server: ${e.message} (error ${e.code})`, e.code) : new TftpClientError(d.reason);
}

/**
 * Fetches `filename`. Data goes to `write(offset, view)` as it arrives
 * (in order); without `write` the file is returned in `data`.
 */
export async function tftpGet(
  filename: string,
  o: ClientOptions & { write?: (offset: number, data: Buffer) => void },
): Promise<TransferResult & { data?: Buffer }> {
  const request: RequestPacket = { op: Opcode.RRQ, filename, mode: o.mode ?? 'octet', options: requestOptions(o) };
  const machine = new TftpReceiver({ request, retry: o.retry ?? defaultRetry });
  const chunks: Buffer[] = [];
  const decoder = o.mode === 'netascii' ? new NetasciiDecoder() : undefined;
  let position = 0;
  const write = (offset: number, data: Buffer) => {
    const bytes = decoder ? decoder.push(data) : data;
    const at = decoder ? position : offset;
    position += bytes.length;
    if (o.write) o.write(at, bytes);
    else chunks.push(Buffer.from(bytes)); // the datagram view is copied only when the caller wants one buffer
  };
  const result = await drive(o, machine, { sink: { write } });
  if (decoder) write(position, decoder.end());
  return { ...result, settings: machine.transferSettings, data: o.write ? undefined : Buffer.concat(chunks) };
}

/** Puts `data` as `filename` (netascii mode converts it from local text first). */
export async function tftpPut(filename: string, data: Buffer, o: ClientOptions): Promise<TransferResult> {
  const bytes = o.mode === 'netascii' ? toNetascii(data) : data;
  const request: RequestPacket = { op: Opcode.WRQ, filename, mode: o.mode ?? 'octet', options: requestOptions(o, bytes.length) };
  const machine = new TftpSender({ size: bytes.length, request, retry: o.retry ?? defaultRetry });
  const r = await drive(o, machine, { source: new MemorySource(bytes) });
  return { ...r, settings: machine.transferSettings };
}

async function drive(
  o: ClientOptions,
  machine: TftpSender | TftpReceiver,
  io: { source?: MemorySource; sink?: { write(offset: number, data: Buffer): void } },
): Promise<{ bytes: number; ms: number }> {
  const host = isIP(o.host) ? o.host : (await lookup(o.host)).address;
  const socket = await openSocket(o, host);
  const started = now();
  return new Promise((resolve, reject) => {
    const driver = new TransferDriver(new DgramTransport(socket), { address: host, port: 0 }, machine, {
      ...io,
      requestPort: o.port ?? 69,
      limiter: new RateLimitedLog<LogLevel>(() => {}),
      onLog: () => {},
      onDone: (d) => {
        if (d.outcome === 'complete') resolve({ bytes: d.bytes, ms: now() - started });
        else reject(errorFrom(d));
      },
    });
    driver.start();
  });
}
