/**
 * Text from the network as it may go into a log. File names, export paths
 * and modes arrive byte for byte from a peer, so control characters (a
 * newline that would forge a second log line, terminal escape sequences, C1
 * controls such as CSI) are shown as \xNN instead of being written out.
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

const hex = (c: number): string => `\\x${c.toString(16).padStart(2, '0')}`;

/** `line` with its C0 and C1 control characters and DEL as \xNN. */
export function printable(line: string): string {
  return line.replace(CONTROL, (c) => hex(c.charCodeAt(0)));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes as log text: valid UTF-8 as text with its control characters as
 * \xNN; anything else byte by byte, printable ASCII as it is and every other
 * byte as \xNN (never a replacement character, so the bytes can be read back).
 */
export function bytesText(raw: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    let out = '';
    for (const b of raw) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : hex(b);
    return out;
  }
  return printable(text);
}
