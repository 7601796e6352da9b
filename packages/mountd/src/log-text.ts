/**
 * A line as it may go into a log: paths come from the network byte for
 * byte, so control characters (a newline that would forge a second log
 * line, terminal escape sequences, C1 controls such as CSI) are shown as
 * \xNN instead of being written out.
 */
export function printable(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
