import { MAX_BLKSIZE } from '@netboot/tftp-wire';
import { type Command, UsageError, boolFlag, parseFlags, stringFlag, untilSignalled } from '../command.js';
import { serveUntilSignalled } from '../serve/until-signalled.js';
import { startTftp } from '../serve/tftp-runner.js';

const usage = `usage: netboot tftp --root DIR [--listen ADDR] [--port 69] [--blksize-max N] [--window-max N]
                    [--remap FILE] [--create] [--max-transfers N] [--threads N] [--verbose]

Serves DIR over TFTP (RFC 1350 with blksize, timeout, tsize and windowsize),
as "in.tftpd -l -v -s DIR" does. Every name resolves inside DIR: a leading "/"
is stripped, and names with "..", absolute paths outside DIR and symlinks
leading out of it are refused with ERROR 2 (access violation). Each transfer
runs on its own port. Logs "RRQ from <ip> filename <f>" for each request and
one line with bytes and seconds when it ends. SIGHUP re-reads the remap file;
SIGINT/SIGTERM stop it.

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
  --threads N         worker threads that run binary (octet) reads, so a boot
                      storm uses more than one core (default: the number of
                      cores, at most 4; 0 runs every transfer on the main thread)
  --verbose           also log retransmissions and other details`;

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
      threads: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
    });
    const root = stringFlag(flags, 'root');
    if (!root) throw new UsageError('--root DIR is required');
    const log = (line: string) => (line.startsWith('tftp: warning:') ? console.error(line) : console.log(line));
    const signalled = untilSignalled();
    const service = await startTftp(
      {
        root,
        listen: stringFlag(flags, 'listen'),
        port: stringFlag(flags, 'port'),
        blksizeMax: stringFlag(flags, 'blksize-max'),
        windowMax: stringFlag(flags, 'window-max'),
        remapFile: stringFlag(flags, 'remap'),
        create: boolFlag(flags, 'create'),
        maxTransfers: stringFlag(flags, 'max-transfers'),
        threads: stringFlag(flags, 'threads'),
        verbose: boolFlag(flags, 'verbose'),
      },
      log,
    );
    return serveUntilSignalled(service, signalled, log, 'the running remap rules stay in force');
  },
};
