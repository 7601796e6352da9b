// README code that shows library use is a file under examples/, included
// verbatim after a `<!-- example: examples/NAME.ts -->` line. This test holds
// the READMEs to the files; `tsc -p tsconfig.test.json` type-checks the files
// against the packages' types, and test/consumer.test.ts compiles and runs
// them against the packed packages. So an example that drifts from the API
// fails the build. Shell lines that run `netboot` are held to the commands
// and flags the command knows.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { commands } from 'netboot';
import { repoRoot } from './support/paths.js';
import { workspaces } from './support/workspaces.js';

const readmes = ['README.md', ...workspaces().map((w) => `${w.dir}/README.md`)];
const checkedLanguages = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);
const shellLanguages = new Set(['', 'sh', 'bash', 'console']);

/** Problems of one shell line that runs netboot: an unknown command, or flags its usage does not list. */
function commandProblems(line: string): string[] {
  const m = /^(?:\$ )?(?:npx )?netboot\s+(\S+)(.*)$/.exec(line.replace(/\s#.*$/, '').trim());
  if (!m) return [];
  const [, name, rest] = m;
  if (['--help', '-h', '--version', '-V'].includes(name)) return [];
  const command = commands.find((c) => c.name === name);
  if (!command) return [`"netboot ${name}": no such command (${commands.map((c) => c.name).join(', ')})`];
  const flags = [...rest.matchAll(/(?:^|[\s[])(--[a-z0-9-]+)/g)].map((f) => f[1]);
  return flags
    .filter((f) => !new RegExp(`(^|[\\s\\[,])${f}(?![a-z0-9-])`, 'm').test(command.usage))
    .map((f) => `"netboot ${name} ${f}": not a flag of netboot ${name} (see netboot ${name} --help)`);
}
const used = new Set<string>();

for (const readme of readmes) {
  t.test(readme, (t) => {
    const lines = readFileSync(join(repoRoot, readme), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const fence = /^```(\S*)\s*$/.exec(lines[i]);
      if (!fence) continue;
      const end = lines.indexOf('```', i + 1);
      t.ok(end > i, `${readme}:${i + 1}: the code block is closed`);
      if (end < 0) break;
      if (shellLanguages.has(fence[1])) {
        for (let j = i + 1; j < end; j++) {
          let line = lines[j];
          const at = j + 1;
          while (line.endsWith('\\') && j + 1 < end) line = line.slice(0, -1) + ' ' + lines[++j];
          for (const problem of commandProblems(line)) t.fail(`${readme}:${at}: ${problem}`);
        }
      }
      if (checkedLanguages.has(fence[1])) {
        const marker = /^<!-- example: (examples\/[\w.-]+) -->$/.exec(lines[i - 1] ?? '');
        if (!marker) {
          t.fail(`${readme}:${i + 1}: a ${fence[1]} block must be an example file, included after <!-- example: examples/NAME.ts -->`);
        } else {
          const file = marker[1];
          used.add(file);
          const block = lines.slice(i + 1, end).join('\n') + '\n';
          t.equal(block, readFileSync(join(repoRoot, file), 'utf8'), `${readme}:${i + 1}: the block is ${file}, verbatim`);
        }
      }
      i = end;
    }
    t.end();
  });
}

t.test('every example is shown in a README', (t) => {
  for (const name of readdirSync(join(repoRoot, 'examples')).filter((n) => n.endsWith('.ts'))) {
    t.ok(used.has(`examples/${name}`), `examples/${name} is included in a README`);
  }
  t.end();
});
