/** What a pxelinux config boots by default: the kernel, its initrds and its command line. */
export interface PxelinuxBoot {
  label?: string;
  kernel?: string;
  initrds: string[];
  append: string;
}

/**
 * Reads the part of a pxelinux config that decides what a node boots: the
 * DEFAULT label (or the first LABEL when there is no DEFAULT), its
 * KERNEL/LINUX, INITRD and APPEND, with `initrd=` on the APPEND line taken
 * as pxelinux does (comma-separated). Directives are case-insensitive.
 */
export function parsePxelinuxConfig(text: string): PxelinuxBoot {
  interface Label { name: string; kernel?: string; initrd?: string; append: string }
  const labels: Label[] = [];
  let defaultLine: string | undefined;
  let globalAppend = '';
  let current: Label | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const word = m[1].toUpperCase();
    const rest = m[2].trim();
    switch (word) {
      case 'DEFAULT':
        defaultLine = rest;
        break;
      case 'LABEL':
        current = { name: rest, append: '' };
        labels.push(current);
        break;
      case 'KERNEL':
      case 'LINUX':
        if (current) current.kernel = rest;
        break;
      case 'INITRD':
        if (current) current.initrd = rest;
        break;
      case 'APPEND':
        if (current) current.append = rest;
        else globalAppend = rest;
        break;
    }
  }
  const chosen = defaultLine !== undefined ? labels.find((l) => l.name === defaultLine.split(/\s+/)[0]) : labels[0];
  if (!chosen) {
    // A DEFAULT that names no label is itself a kernel and its command line.
    if (defaultLine === undefined) return { initrds: [], append: '' };
    const [kernel, ...args] = defaultLine.split(/\s+/);
    const append = [globalAppend, ...args].filter(Boolean).join(' ');
    return { kernel, initrds: initrdsOf(append), append };
  }
  const append = chosen.append === '-' ? '' : chosen.append || globalAppend;
  const initrds = chosen.initrd ? chosen.initrd.split(',').filter(Boolean) : initrdsOf(append);
  return { label: chosen.name, kernel: chosen.kernel, initrds, append };
}

function initrdsOf(append: string): string[] {
  const m = /(?:^|\s)initrd=(\S+)/.exec(append);
  return m ? m[1].split(',').filter(Boolean) : [];
}

/** The NFS root a kernel command line asks for (`nfsroot=[server:]path[,opts]`, `%s` is the node's address). */
export interface NfsRoot {
  server?: string;
  path: string;
  options: string[];
}

export function nfsRootOf(cmdline: string, nodeIp: string): NfsRoot | undefined {
  const m = /(?:^|\s)nfsroot=(\S+)/.exec(cmdline);
  if (!m) return undefined;
  const [spec, ...options] = m[1].split(',');
  const colon = spec.indexOf(':');
  const server = colon > 0 ? spec.slice(0, colon) : undefined;
  const path = (colon > 0 ? spec.slice(colon + 1) : spec).replaceAll('%s', nodeIp);
  return { server, path, options };
}
