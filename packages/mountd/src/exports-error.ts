/** Where in an exports file something was found (1-based line and column). */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/**
 * A mistake in an exports file. The message carries `file:line:column`, what
 * is wrong and how to fix it, so it can be shown to the admin as it is.
 */
export class ExportsError extends Error {
  override name = 'ExportsError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(
    at: SourcePosition,
    readonly problem: string,
    readonly fix?: string,
  ) {
    super(`${at.file}:${at.line}:${at.column}: ${problem}${fix ? `; ${fix}` : ''}`);
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
  }
}

/** Something nfs-utils accepts but warns about; the export still takes effect. */
export interface ExportsWarning extends SourcePosition {
  message: string;
}

export function formatWarning(w: ExportsWarning): string {
  return `${w.file}:${w.line}:${w.column}: warning: ${w.message}`;
}
