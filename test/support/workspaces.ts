import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface Workspace {
  /** Directory relative to the repository root, e.g. `packages/nfs3`. */
  dir: string;
  name: string;
  version: string;
  /** The parsed package.json. */
  manifest: Record<string, unknown>;
}

/**
 * Every workspace the root package.json lists (a `dir/*` pattern is each
 * subdirectory with a package.json), so packages added later are covered
 * without editing the tests.
 */
export function workspaces(): Workspace[] {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
  const dirs = root.workspaces.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(repoRoot, parent), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(repoRoot, parent, e.name, 'package.json')))
      .map((e) => `${parent}/${e.name}`);
  });
  return dirs.sort().map((dir) => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    return { dir, name: manifest.name as string, version: manifest.version as string, manifest };
  });
}
