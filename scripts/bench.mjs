// `npm run bench`: bundles bench/main.ts with ncc (as scripts/build.mjs bundles src/) into .cache/bench and runs it
// with the arguments given. ncc type-checks the whole project (tsconfig include) on the way, so a type error anywhere
// stops the bench. The bench measures the built CLI, so dist/cli/index.js must exist.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('dist/cli/index.js')) {
  console.error('dist/cli/index.js is missing: run npm run build first (the bench measures the built CLI)');
  process.exit(1);
}
execFileSync('npx', ['ncc', 'build', 'bench/main.ts', '-o', '.cache/bench', '--target', 'es2022', '-q'], {
  stdio: 'inherit',
});
const result = spawnSync(process.execPath, ['.cache/bench/index.js', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
