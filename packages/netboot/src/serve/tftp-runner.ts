import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { MAX_BLKSIZE, parseRemap, TftpServer, type Remap, type TftpServerOptions } from '@netboot/tftp-wire';
import { UsageError, intFlag, portFlag } from '../command.js';
import type { Log, RunningService } from './running-service.js';

export interface TftpSettings {
  root: string;
  listen?: string;
  port?: string;
  blksizeMax?: string;
  windowMax?: string;
  remapFile?: string;
  create: boolean;
  maxTransfers?: string;
  threads?: string;
  verbose: boolean;
}

async function loadRemap(file: string): Promise<Remap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the remap file ${file}: ${(e as Error).message}`);
  }
  return parseRemap(text, file); // a RemapSyntaxError names file:line:column
}

function explain(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') {
    return new Error(`${host} port ${port} is already in use, probably by another TFTP server (in.tftpd, dnsmasq); stop it or choose another port`);
  }
  if (err.code === 'EACCES') return new Error(`binding port ${port} needs root (or CAP_NET_BIND_SERVICE); run as root or use a port above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${host} is not an address of this host; check --listen`);
  if (err.code === 'ENOENT') return new Error(`${err.path ?? 'the root'} does not exist; check the TFTP root`);
  return err;
}

/** A TFTP server on a secure root, as `in.tftpd -l -v -s ROOT`. */
export async function startTftp(s: TftpSettings, log: Log, onTransfer?: TftpServerOptions['onTransfer']): Promise<RunningService> {
  if (s.listen !== undefined && isIP(s.listen) === 0) throw new UsageError(`--listen must be an IP address, not "${s.listen}"`);
  const port = portFlag(s.port, '--port', 69);
  let remap = s.remapFile !== undefined ? await loadRemap(s.remapFile) : undefined;
  const server = new TftpServer({
    root: s.root,
    address: s.listen,
    port,
    blksizeMax: intFlag(s.blksizeMax, '--blksize-max', MAX_BLKSIZE, 8, MAX_BLKSIZE),
    windowMax: intFlag(s.windowMax, '--window-max', 64, 1, 65535),
    remap,
    create: s.create,
    maxTransfers: intFlag(s.maxTransfers, '--max-transfers', 256, 1, 100_000),
    threads: intFlag(s.threads, '--threads', Math.min(4, availableParallelism()), 0, 64),
    onTransfer,
    log: (level, message) => {
      if (level === 'debug' && !s.verbose) return;
      log(level === 'warning' ? `tftp: warning: ${message}` : `tftp: ${message}`);
    },
  });
  let bound;
  try {
    bound = await server.listen();
  } catch (e) {
    await server.close();
    throw explain(e as NodeJS.ErrnoException, s.listen ?? '::', port);
  }
  log(`tftp: listening on ${bound.address} port ${bound.port}, root ${s.root}${remap ? `, ${remap.size} remap rules` : ''}`);
  return {
    name: 'tftp',
    endpoints: [{ service: 'tftp', proto: 'udp', address: bound.address, port: bound.port }],
    async reload() {
      if (s.remapFile === undefined) return;
      remap = await loadRemap(s.remapFile);
      server.setRemap(remap);
      log(`tftp: reloaded ${remap.size} remap rules from ${s.remapFile}`);
    },
    close: () => server.close(),
  };
}
