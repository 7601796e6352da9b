import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One `netboot <name>` subcommand. */
export interface Command {
  name: string;
  /** One line for `netboot --help`. */
  summary: string;
  /** The full text for `netboot <name> --help`. */
  usage: string;
  /** Resolves when the command is done; long-running servers resolve on shutdown. */
  run(argv: string[]): Promise<number>;
}

/** A mistake on the command line: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags: strings for valued flags, booleans for switches, arrays for repeatable flags. */
export interface Flags {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/**
 * Parses flags strictly, so a typo is an error that names the flag instead of
 * a setting silently ignored. `--help` is always accepted.
 */
export function parseFlags(argv: string[], options: Options, allowPositionals = false): Flags {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
    return { values, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Reads a flag that takes one value. */
export function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`);
  return v;
}

/** Reads an on/off switch. */
export function boolFlag(flags: Flags, name: string): boolean {
  return flags.values[name] === true;
}

/** Reads a port flag, refusing anything that is not a port number. */
export function portFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(`${flag} must be a port number from 0 to 65535, not "${value}"`);
  }
  return n;
}

/** Reads a positive integer flag within limits. */
export function intFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

/**
 * Resolves when the process is asked to stop (SIGINT or SIGTERM), so a server
 * command can close its sockets and return 0. Later stop signals are ignored
 * while it shuts down: a service manager or a process-group kill may deliver
 * the same request twice, and the second must not cut the clean stop short.
 * Call it before starting the service: a signal that arrives while the
 * service starts then stops it once it is up, instead of killing the
 * process half-way (exit 143) with its registrations left behind.
 */
export function untilSignalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const ignore = () => {};
    const done = (sig: NodeJS.Signals) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      process.on('SIGINT', ignore);
      process.on('SIGTERM', ignore);
      resolve(sig);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
