/**
 * A line as it may go into a log: paths come from the network byte for
 * byte, so control characters (a newline that would forge a second log
 * line, terminal escape sequences, C1 controls such as CSI) are shown as
 * \xNN instead of being written out.
 */
export function printable(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes from the network as log text: UTF-8 as it is, any other byte as \xNN (never a replacement character). */
export function bytesText(raw: Uint8Array): string {
  try {
    return utf8.decode(raw);
  } catch {
    let text = '';
    for (const b of raw) text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
    return text;
  }
}
