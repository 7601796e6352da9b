/**
 * A message as it may go into a log: file names and modes come from the
 * network byte for byte, so control characters (a newline that would forge
 * a second log line, terminal escape sequences, C1 controls such as CSI)
 * are shown as \xNN instead of being written out.
 */
export function printable(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
