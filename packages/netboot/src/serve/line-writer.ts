/** Lines that may wait are held at most this long (ms)... */
const HOLD_MS = 100;
/** ...or until this many characters have gathered. */
const HOLD_CHARS = 16 * 1024;

/**
 * A log of one line per call, written to `stream` as it is: console.log
 * formats each line and checks the terminal's colours, which cost more than
 * the HTTP request the line reports. As with console.log, a reader that went
 * away (EPIPE) loses the lines without stopping the server.
 *
 * Lines that may wait (`mayWait`: access log lines) are gathered and written
 * together: once 16 KiB have gathered, 100 ms after the first of them, with
 * the next line that may not wait, or at the process's exit. A server
 * answering one small request per turn of its loop (a client on one
 * keep-alive connection) otherwise pays a stream write and a system call
 * per line, about a tenth of the request's cost. A process killed outright
 * loses at most the last 100 ms of access lines.
 */
export function lineWriter(stream: NodeJS.WriteStream): (line: string, mayWait?: boolean) => void {
  stream.on('error', () => {});
  let held = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (held === '') return;
    const text = held;
    held = '';
    stream.write(text);
  };
  // Writes to files and pipes are synchronous on Linux: lines written at exit are not lost.
  process.once('exit', flush);
  return (line, mayWait) => {
    held += `${line}\n`;
    if (!mayWait || held.length >= HOLD_CHARS) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, HOLD_MS);
      // Held lines do not keep the process alive: 'exit' writes them.
      timer.unref();
    }
  };
}
