#!/usr/bin/env node
// Builds the addon a second time with AddressSanitizer and UndefinedBehaviorSanitizer
// into build-sanitize/ (beside, never over, the normal build/), and prints the
// path of the .node file. Load it with NETBOOT_PLATFORM_ADDON=<path>, under
// LD_PRELOAD=$(gcc -print-file-name=libasan.so): Node itself is not instrumented.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(packageDir, 'build-sanitize');

function nodeGyp() {
  try {
    return createRequire(join(packageDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm carries its own node-gyp, the one `npm install` uses.
    const npm = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
    return join(dirname(npm), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  }
}

function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const r = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' });
  const dir = r.status === 0 ? r.stdout.trim() : '';
  return dir && dir !== 'undefined' && dir !== 'null' ? dir : undefined;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(packageDir, 'binding.gyp'), join(out, 'binding.gyp'));
cpSync(join(packageDir, 'native'), join(out, 'native'), { recursive: true });
const flags = '-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1';
const dir = nodedir();
const r = spawnSync(process.execPath, [nodeGyp(), 'rebuild', ...(dir ? [`--nodedir=${dir}`] : [])], {
  cwd: out,
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
  env: { ...process.env, CFLAGS: flags, LDFLAGS: '-fsanitize=address,undefined' },
});
const addon = join(out, 'build', 'Release', 'netboot_platform.node');
if (r.status !== 0 || !existsSync(addon)) {
  console.error(`${r.stdout}${r.stderr}\nsanitizer build failed (node-gyp exit ${r.status})`);
  process.exit(1);
}
console.log(addon);
