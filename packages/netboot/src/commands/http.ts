import { type Command, UsageError, boolFlag, parseFlags, stringFlag, untilSignalled } from '../command.js';
import { serveUntilSignalled } from '../serve/until-signalled.js';
import { startHttp } from '../serve/http-runner.js';
import { lineWriter } from '../serve/line-writer.js';

const usage = `usage: netboot http --root DIR [--listen ADDR] [--port 80] [--remap FILE] [--verbose]

Serves DIR (the TFTP root) read-only over HTTP/1.1, for iPXE scripts and UEFI
HTTP Boot that load kernels and initrds over HTTP. The same names reach the
same files as over TFTP: the path is percent-decoded, remap rules are applied,
and names with "..", or symlinks leading out of DIR, are refused (403). GET
and HEAD, one byte range (206/416), keep-alive; no directory listing. Logs one
line per response in the combined log format. SIGHUP re-reads the remap file;
SIGINT/SIGTERM stop it.

flags:
  --root DIR       directory to serve (required)
  --listen ADDR    address to listen on (default :: with IPv4 too, or 0.0.0.0)
  --port N         TCP port (default 80)
  --remap FILE     filename remapping rules in tftp-hpa's -m syntax (as netboot tftp)
  --verbose        also log remapped names and clients that leave mid-file`;

export const http: Command = {
  name: 'http',
  summary: 'serve the TFTP root read-only over HTTP (iPXE, UEFI HTTP Boot)',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, {
      root: { type: 'string' },
      listen: { type: 'string' },
      port: { type: 'string' },
      remap: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
    });
    const root = stringFlag(flags, 'root');
    if (!root) throw new UsageError('--root DIR is required');
    const out = lineWriter(process.stdout);
    const err = lineWriter(process.stderr);
    // An access line (mayWait) is never a warning: it is held without a look at its text.
    const log = (line: string, mayWait?: boolean) => (!mayWait && line.startsWith('http: warning:') ? err(line) : out(line, mayWait));
    const signalled = untilSignalled();
    const service = await startHttp(
      { root, listen: stringFlag(flags, 'listen'), port: stringFlag(flags, 'port'), remapFile: stringFlag(flags, 'remap'), verbose: boolFlag(flags, 'verbose') },
      log,
    );
    return serveUntilSignalled(service, signalled, log, 'the running remap rules stay in force');
  },
};
