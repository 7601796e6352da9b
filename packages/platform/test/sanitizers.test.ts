// The stress test, the native UDP socket's test (its libuv callbacks,
// worker threads and collection) and sendfileAll's (a libuv handle freed from
// its close callback, pool jobs reading a cold file, a cancel during one) and pwriteSync's (a buffer held by pool jobs) once more against the addon built with ASan+UBSan. Node is
// not instrumented, so the ASan runtime is preloaded; leak checking is off
// (V8's own allocations would drown it). Any sanitizer report aborts the
// child (halt_on_error, -fno-sanitize-recover), which fails this test.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import t from 'tap';
import { requireNative } from './require-native.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(packageDir, '..', '..');

if (requireNative(t)) {
  const libasan = spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (!libasan.startsWith('/')) {
    if (process.env.CI === 'true') t.fail('gcc cannot name libasan.so: install gcc (Debian package gcc)');
    else t.skip('no libasan.so from gcc: the sanitizer run needs gcc', () => {});
  } else {
    t.test('build with -fsanitize=address,undefined', async (t) => {
      const build = spawnSync(process.execPath, [join(packageDir, 'scripts', 'build-sanitized.mjs')], { encoding: 'utf8' });
      t.equal(build.status, 0, build.stderr);
      const addon = build.stdout.trim();
      t.match(addon, /build-sanitize\/build\/Release\/netboot_platform\.node$/);

      const run = spawnSync(
        process.execPath,
        [join(repoRoot, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), '--disable-coverage', '--reporter=tap', '--jobs=1', join(packageDir, 'test', 'stress.test.ts'), join(packageDir, 'test', 'udp-batch.test.ts'), join(packageDir, 'test', 'sendfile-all.test.ts'), join(packageDir, 'test', 'pwrite-sync.test.ts')],
        {
          cwd: repoRoot,
          encoding: 'utf8',
          env: {
            ...process.env,
            TS_NODE_PROJECT: join(repoRoot, 'tsconfig.test.json'),
            NETBOOT_PLATFORM_ADDON: addon,
            LD_PRELOAD: libasan,
            ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=1',
            UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
          },
          timeout: 240_000,
        },
      );
      const output = `${run.stdout}\n${run.stderr}`;
      t.notMatch(output, /AddressSanitizer|runtime error:|UndefinedBehaviorSanitizer/, 'no sanitizer report');
      t.match(output, /build-sanitize/, 'the stress test ran against the sanitizer build');
      if (run.status !== 0) t.comment(output.slice(-8000));
      t.equal(run.status, 0, 'the stress and UDP tests pass under the sanitizers');
    });
  }
}
