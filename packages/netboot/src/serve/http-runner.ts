import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { HttpBootServer, type HttpBootServerOptions } from '@netboot/http-boot';
import { parseRemap, type Remap } from '@netboot/tftp-wire';
import { UsageError, portFlag } from '../command.js';
import type { Log, RunningService } from './running-service.js';

export interface HttpSettings {
  root: string;
  listen?: string;
  port?: string;
  /** The TFTP remap rules: the same names reach the same files over both. */
  remapFile?: string;
  verbose: boolean;
}

async function loadRemap(file: string): Promise<Remap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the remap file ${file}: ${(e as Error).message}`);
  }
  return parseRemap(text, file);
}

function explain(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') return new Error(`${host} port ${port} is already in use (another web server?); stop it or choose another --http-port`);
  if (err.code === 'EACCES') return new Error(`binding port ${port} needs root (or CAP_NET_BIND_SERVICE); run as root or use a port above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${host} is not an address of this host; check --listen`);
  if (err.code === 'ENOENT') return new Error(`${err.path ?? 'the root'} does not exist; check the root directory`);
  return err;
}

/** The boot-file root over HTTP: what iPXE scripts and UEFI HTTP Boot fetch. */
export async function startHttp(s: HttpSettings, log: Log, onExchange?: HttpBootServerOptions['onExchange']): Promise<RunningService> {
  if (s.listen !== undefined && isIP(s.listen) === 0) throw new UsageError(`--listen must be an IP address, not "${s.listen}"`);
  const port = portFlag(s.port, '--http-port', 80);
  let remap = s.remapFile !== undefined ? await loadRemap(s.remapFile) : undefined;
  const server = new HttpBootServer({
    root: s.root,
    address: s.listen,
    port,
    remap,
    onExchange,
    accessLog: (line) => log(`http: ${line}`),
    log: (level, message) => {
      if (level === 'debug' && !s.verbose) return;
      log(level === 'warning' ? `http: warning: ${message}` : `http: ${message}`);
    },
  });
  let bound;
  try {
    bound = await server.listen();
  } catch (e) {
    await server.close();
    throw explain(e as NodeJS.ErrnoException, s.listen ?? '::', port);
  }
  log(`http: listening on ${bound.address} port ${bound.port}, root ${s.root} (read-only)${remap ? `, ${remap.size} remap rules` : ''}`);
  return {
    name: 'http',
    endpoints: [{ service: 'http', proto: 'tcp', address: bound.address, port: bound.port }],
    async reload() {
      if (s.remapFile === undefined) return;
      remap = await loadRemap(s.remapFile);
      server.setRemap(remap);
      log(`http: reloaded ${remap.size} remap rules from ${s.remapFile}`);
    },
    close: () => server.close(),
  };
}
