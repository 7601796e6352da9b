import { readFile } from 'node:fs/promises';

/** A setting from a config file, with where it was written for error messages. */
export interface ConfigEntry {
  key: string;
  value: string | true;
  file: string;
  line: number;
  column: number;
}

/** A config file mistake, located by file, line and column. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(`${file}:${line}:${column}: ${message}`);
  }
}

/**
 * Parses netboot's config file: one setting a line, written as the long flag
 * without its dashes (`tftp-root /srv/tftp`, or `tftp-root = /srv/tftp`), so
 * a service manager can hold what an admin would type. A switch stands alone
 * (`create`). `#` starts a comment; a value may be double-quoted to keep
 * spaces or a `#`.
 */
export function parseConfigFile(text: string, file: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = i + 1;
    const m = /^(\s*)([A-Za-z][A-Za-z0-9-]*)(.*)$/.exec(raw);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (!m) {
      const column = raw.length - raw.trimStart().length + 1;
      throw new ConfigFileError(file, line, column, `expected a setting name (like "tftp-root"), found "${trimmed}"`);
    }
    const key = m[2];
    const keyColumn = m[1].length + 1;
    let rest = m[3];
    let column = keyColumn + key.length;
    const lead = /^\s*(=\s*)?/.exec(rest)![0];
    rest = rest.slice(lead.length);
    column += lead.length;
    let value: string | true;
    if (rest.startsWith('"')) {
      const end = rest.indexOf('"', 1);
      if (end < 0) throw new ConfigFileError(file, line, column, 'a quoted value has no closing "');
      value = rest.slice(1, end);
      const after = rest.slice(end + 1).trim();
      if (after !== '' && !after.startsWith('#')) {
        throw new ConfigFileError(file, line, column + end + 1, `unexpected "${after}" after the quoted value`);
      }
    } else {
      const v = rest.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trim();
      if (lead.includes('=') && v === '') {
        throw new ConfigFileError(file, line, column, `"${key} =" needs a value`);
      }
      value = v === '' ? true : v;
    }
    entries.push({ key, value, file, line, column: keyColumn });
  }
  return entries;
}

export async function loadConfigFile(file: string): Promise<ConfigEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfigFile(text, file);
}
