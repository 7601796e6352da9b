import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { MAX_BLKSIZE, parseRemap, TftpServer, type Remap } from '@netboot/tftp-wire';
import { type Command, UsageError, boolFlag, intFlag, parseFlags, portFlag, stringFlag, untilSignalled } from '../command.js';

const usage = `usage: netboot tftp --root DIR [--listen ADDR] [--port 69] [--blksize-max N] [--window-max N]
                    [--remap FILE] [--create] [--max-transfers N] [--verbose]

Serves DIR over TFTP (RFC 1350 with blksize, timeout, tsize and windowsize),
as "in.tftpd -l -v -s DIR" does. Every name resolves inside DIR: a leading "/"
is stripped, and names with "..", absolute paths outside DIR and symlinks
leading out of it are refused with ERROR 2 (access violation). Each transfer
runs on its own port. Logs "RRQ from <ip> filename <f>" for each request and
one line with bytes and seconds when it ends. SIGINT/SIGTERM stop it.

flags:
  --root DIR          directory to serve (required)
  --listen ADDR       address to listen on (default :: with IPv4 too, or 0.0.0.0)
  --port N            UDP port (default 69)
  --blksize-max N     largest blksize agreed to, 8..${MAX_BLKSIZE} (default ${MAX_BLKSIZE});
                      1468 suits clients that mishandle fragmented packets
  --window-max N      largest windowsize agreed to, 1..65535 (default 64)
  --remap FILE        filename remapping rules in tftp-hpa's -m syntax
                      (operations r g i e s a G P 4 6 ~, captures \\0-\\9, \\i, \\x)
  --create            accept uploads (WRQ): new files are created, existing ones
                      overwritten only when world-writable (like tftp-hpa -c)
  --max-transfers N   concurrent transfers; more get an ERROR (default 256)
  --verbose           also log retransmissions and other details`;

function explain(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') {
    return new Error(`${host} port ${port} is already in use, probably by another TFTP server (in.tftpd, dnsmasq); stop it or choose another --port`);
  }
  if (err.code === 'EACCES') return new Error(`binding port ${port} needs root (or CAP_NET_BIND_SERVICE); run as root or use --port above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${host} is not an address of this host; check --listen`);
  if (err.code === 'ENOENT') return new Error(`${err.path ?? 'the root'} does not exist; check --root`);
  return err;
}

export const tftp: Command = {
  name: 'tftp',
  summary: 'serve a directory over TFTP (pxelinux, kernels, initrds) on port 69',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, {
      root: { type: 'string' },
      listen: { type: 'string' },
      port: { type: 'string' },
      'blksize-max': { type: 'string' },
      'window-max': { type: 'string' },
      remap: { type: 'string' },
      create: { type: 'boolean' },
      'max-transfers': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
    });
    const root = stringFlag(flags, 'root');
    if (!root) throw new UsageError('--root DIR is required');
    const host = stringFlag(flags, 'listen');
    if (host !== undefined && isIP(host) === 0) throw new UsageError(`--listen must be an IP address, not "${host}"`);
    const port = portFlag(stringFlag(flags, 'port'), '--port', 69);
    const blksizeMax = intFlag(stringFlag(flags, 'blksize-max'), '--blksize-max', MAX_BLKSIZE, 8, MAX_BLKSIZE);
    const windowMax = intFlag(stringFlag(flags, 'window-max'), '--window-max', 64, 1, 65535);
    const maxTransfers = intFlag(stringFlag(flags, 'max-transfers'), '--max-transfers', 256, 1, 100_000);
    const verbose = boolFlag(flags, 'verbose');
    const remapFile = stringFlag(flags, 'remap');
    let remap: Remap | undefined;
    if (remapFile !== undefined) {
      let text: string;
      try {
        text = await readFile(remapFile, 'utf8');
      } catch (e) {
        throw new Error(`cannot read the remap file ${remapFile}: ${(e as Error).message}`);
      }
      remap = parseRemap(text, remapFile); // a RemapSyntaxError names file:line:column
    }
    const server = new TftpServer({
      root,
      address: host,
      port,
      blksizeMax,
      windowMax,
      remap,
      create: boolFlag(flags, 'create'),
      maxTransfers,
      log: (level, message) => {
        if (level === 'debug' && !verbose) return;
        if (level === 'warning') console.error(`tftp: warning: ${message}`);
        else console.log(`tftp: ${message}`);
      },
    });
    let bound;
    try {
      bound = await server.listen();
    } catch (e) {
      await server.close();
      throw explain(e as NodeJS.ErrnoException, host ?? '::', port);
    }
    console.log(`tftp: listening on ${bound.address} port ${bound.port}, root ${root}${remap ? `, ${remap.size} remap rules` : ''}`);
    const sig = await untilSignalled();
    console.log(`tftp: ${sig}: stopping`);
    await server.close();
    return 0;
  },
};
