import { isIP } from 'node:net';
import { HttpBootServer, type HttpBootServerOptions } from '@netboot/http-boot';
import { UsageError, portFlag } from '../command.js';
import { listenError } from './listen-error.js';
import { loadRemap } from './remap-file.js';
import { serviceLog, type Log, type RunningService } from './running-service.js';

export interface HttpSettings {
  root: string;
  listen?: string;
  port?: string;
  /** The TFTP remap rules: the same names reach the same files over both. */
  remapFile?: string;
  verbose: boolean;
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
    accessLog: (line) => log(`http: ${line}`, true),
    log: serviceLog('http', s.verbose, log),
  });
  let bound;
  try {
    bound = await server.listen();
  } catch (e) {
    await server.close();
    throw listenError(e as NodeJS.ErrnoException, s.listen ?? '::', port, { inUse: ' (another web server?); stop it or choose another --http-port', root: 'the root directory' });
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
