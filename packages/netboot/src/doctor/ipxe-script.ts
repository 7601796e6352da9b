/** An image an iPXE script fetches: the command, the URI as written, and its line. */
export interface IpxeImage {
  command: string;
  uri: string;
  line: number;
}

/** Commands that fetch an image, and the options of theirs that take a value. */
const FETCHES = new Set(['kernel', 'initrd', 'chain', 'chainload', 'imgfetch', 'module', 'imgexec', 'imgload', 'imgselect', 'boot']);
const WITH_VALUE = new Set(['-n', '--name', '-t', '--timeout']);

/** Whether a file is an iPXE script (iPXE requires the `#!ipxe` first line). */
export function isIpxeScript(head: string): boolean {
  return /^#!ipxe\b/.test(head);
}

/**
 * The images an iPXE script fetches (kernel, initrd, chain, imgfetch, ...),
 * in order; `boot` with no argument and lines that are not fetches are skipped,
 * and a `||`/`&&` ends a command, as iPXE reads it.
 */
export function ipxeImages(text: string): IpxeImage[] {
  const out: IpxeImage[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(':')) return;
    const words = line.split(/\s+/);
    const end = words.findIndex((w) => w === '||' || w === '&&');
    const [command, ...args] = end < 0 ? words : words.slice(0, end);
    if (!FETCHES.has(command)) return;
    for (let k = 0; k < args.length; k++) {
      const a = args[k];
      if (WITH_VALUE.has(a)) k++;
      else if (!a.startsWith('-')) {
        out.push({ command, uri: a, line: i + 1 });
        return;
      }
    }
  });
  return out;
}
