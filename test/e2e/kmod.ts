import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Kernel module names treat '-' and '_' alike; modinfo's depends= uses '_'. */
function canonical(name: string): string {
  return name.replace(/-/g, '_');
}

/** Every `*.ko` under `dir`, keyed by canonical module name. */
function indexModules(dir: string, into = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) indexModules(path, into);
    else if (entry.name.endsWith('.ko')) into.set(canonical(entry.name.slice(0, -3)), path);
  }
  return into;
}

/**
 * The `depends=` list from a module's ELF `.modinfo` section. Debian's
 * kernel package ships no modules.dep (depmod runs at install), so the
 * dependencies are read from the modules themselves.
 */
export function moduleDepends(ko: Buffer, file: string): string[] {
  if (ko.length < 64 || ko.readUInt32BE(0) !== 0x7f454c46 || ko[4] !== 2 || ko[5] !== 1) {
    throw new Error(`${file}: not a little-endian ELF64 kernel module`);
  }
  const shoff = Number(ko.readBigUInt64LE(0x28));
  const shentsize = ko.readUInt16LE(0x3a);
  const shnum = ko.readUInt16LE(0x3c);
  const shstrndx = ko.readUInt16LE(0x3e);
  if (shoff + shnum * shentsize > ko.length || shstrndx >= shnum) throw new Error(`${file}: section table out of range`);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: ko.readUInt32LE(at),
      offset: Number(ko.readBigUInt64LE(at + 24)),
      size: Number(ko.readBigUInt64LE(at + 32)),
    };
  };
  const names = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameStart = names.offset + s.name;
    const nameEnd = ko.indexOf(0, nameStart);
    if (ko.toString('latin1', nameStart, nameEnd) !== '.modinfo') continue;
    if (s.offset + s.size > ko.length) throw new Error(`${file}: .modinfo out of range`);
    const fields = ko.toString('latin1', s.offset, s.offset + s.size).split('\0');
    const depends = fields.find((f) => f.startsWith('depends='));
    return depends ? depends.slice('depends='.length).split(',').filter(Boolean).map(canonical) : [];
  }
  throw new Error(`${file}: no .modinfo section`);
}

/**
 * The modules to insmod, dependencies first, for `wanted` from the kernel's
 * module tree `modulesDir` (lib/modules/<version>). Modules built into the
 * kernel (modules.builtin) are satisfied without a file.
 */
export function resolveModules(modulesDir: string, wanted: string[]): { name: string; path: string }[] {
  const index = indexModules(join(modulesDir, 'kernel'));
  const builtin = new Set(
    readFileSync(join(modulesDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => canonical(line.replace(/^.*\//, '').replace(/\.ko$/, ''))),
  );
  const order: { name: string; path: string }[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    const key = canonical(name);
    if (state.get(key) === 'done' || builtin.has(key)) return;
    if (state.get(key) === 'visiting') throw new Error(`module dependency cycle: ${[...chain, key].join(' -> ')}`);
    const path = index.get(key);
    if (!path) throw new Error(`module ${key} (needed by ${chain.join(' -> ') || 'the guest'}) is not in ${modulesDir}`);
    state.set(key, 'visiting');
    for (const dep of moduleDepends(readFileSync(path), path)) visit(dep, [...chain, key]);
    state.set(key, 'done');
    order.push({ name: key, path });
  };
  for (const name of wanted) visit(name, []);
  return order;
}
