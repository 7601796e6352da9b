export interface FuzzTarget {
  name: string;
  golden: Buffer[];
  maxInput?: number;
  run(input: Buffer): unknown;
  typed(err: unknown): boolean;
}
export interface Finding {
  kind: 'exception' | 'slow' | 'allocation' | 'hang';
  detail: string;
}
export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(list: readonly T[]): T;
  chance(p: number): boolean;
}
export function prng(seed: number): Rng;
export function nextInput(rng: Rng, target: FuzzTarget): Buffer;
export const LIMITS: { ms: number; allocBytes: number; arrayBufferGrowth: number };
export function execute(target: FuzzTarget, input: Buffer): Finding | undefined;
export function fuzz(
  targets: readonly FuzzTarget[],
  opts: {
    seed: number;
    deadline: number;
    maxExecs?: number;
    onFinding(target: FuzzTarget, input: Buffer, finding: Finding): void;
    onInput?(target: FuzzTarget, input: Buffer): void;
  },
): { execs: number; counts: Map<string, number> };
