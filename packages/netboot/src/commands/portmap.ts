import { isIP } from 'node:net';
import { PMAP_PORT, PortmapServer } from '@netboot/portmap';
import { type Command, UsageError, parseFlags, portFlag, stringFlag, untilSignalled } from '../command.js';
import { listenError } from '../serve/listen-error.js';

const usage = `usage: netboot portmap [--listen ADDR] [--port N]

Runs the portmapper: version 2 (portmap) and rpcbind versions 3 and 4 over
UDP and TCP, answering every mode of rpcinfo. Logs each registration and
unregistration. Only callers on this host (loopback) may register or
unregister; bound to a specific address it also listens on loopback at the
same port for them. CALLIT (indirect calls) is never forwarded.
SIGINT/SIGTERM stop it.

flags:
  --listen ADDR   address to listen on (default 0.0.0.0)
  --port N        UDP and TCP port (default ${PMAP_PORT})`;

export const portmap: Command = {
  name: 'portmap',
  summary: 'run the portmapper (portmap v2, rpcbind v3/v4) on port 111',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, { listen: { type: 'string' }, port: { type: 'string' } });
    const host = stringFlag(flags, 'listen') ?? '0.0.0.0';
    if (isIP(host) === 0) throw new UsageError(`--listen must be an IP address, not "${host}"`);
    const port = portFlag(stringFlag(flags, 'port'), '--port', PMAP_PORT);
    const log = (line: string) => console.log(line);
    const server = new PortmapServer({ log });
    const signalled = untilSignalled();
    let bound: number;
    try {
      bound = await server.listen({ host, port });
    } catch (e) {
      await server.close();
      throw listenError(e as NodeJS.ErrnoException, host, port, { inUse: ', probably by rpcbind; stop it (systemctl stop rpcbind.socket rpcbind) or choose another --port' });
    }
    log(`portmap: listening on ${host} port ${bound} (UDP and TCP)`);
    const sig = await signalled;
    log(`portmap: ${sig}: stopping`);
    await server.close();
    return 0;
  },
};
