/**
 * A log of one line per call, written to `stream` as it is: console.log
 * formats each line and checks the terminal's colours, which cost more than
 * the HTTP request the line reports. As with console.log, a reader that went
 * away (EPIPE) loses the lines without stopping the server.
 */
export function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  stream.on('error', () => {});
  return (line) => {
    stream.write(`${line}\n`);
  };
}
