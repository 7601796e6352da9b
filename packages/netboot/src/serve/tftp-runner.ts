import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { MAX_BLKSIZE, TftpServer, type SlotLoad, type TftpServerOptions } from '@netboot/tftp-wire';
import { UsageError, intFlag, portFlag } from '../command.js';
import { listenError } from './listen-error.js';
import { loadRemap } from './remap-file.js';
import { serviceLog, type Log, type RunningService } from './running-service.js';

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
  /** Requests over --max-transfers wait for a slot, fairly between nodes, instead of "Server busy" (netboot serve). */
  pacing?: boolean;
  verbose: boolean;
}

/** A running TFTP server, with how loaded its transfer slots are (what DHCP pacing reads). */
export interface RunningTftp extends RunningService {
  transferLoad(): SlotLoad;
}

/** A TFTP server on a secure root, as `in.tftpd -l -v -s ROOT`. */
export async function startTftp(s: TftpSettings, log: Log, onTransfer?: TftpServerOptions['onTransfer']): Promise<RunningTftp> {
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
    pacing: s.pacing ? {} : undefined,
    onTransfer,
    log: serviceLog('tftp', s.verbose, log),
  });
  let bound;
  try {
    bound = await server.listen();
  } catch (e) {
    await server.close();
    throw listenError(e as NodeJS.ErrnoException, s.listen ?? '::', port, { inUse: ', probably by another TFTP server (in.tftpd, dnsmasq); stop it or choose another port', root: 'the TFTP root' });
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
    transferLoad: () => server.transferLoad(),
  };
}
