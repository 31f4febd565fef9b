// Bundles the three entries with ncc into dist/<entry>/index.js (committed; CI checks they are fresh), and puts the
// stand-in API-M server that `apim-migrate demo` runs next to the CLI bundle (src/demo/stand-in.ts finds it there).
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';

const entries = { main: 'src/main.ts', post: 'src/post.ts', cli: 'src/cli.ts' };
for (const [name, source] of Object.entries(entries)) {
  rmSync(`dist/${name}`, { recursive: true, force: true });
  execFileSync(
    'npx',
    [
      'ncc',
      'build',
      source,
      '-o',
      `dist/${name}`,
      '--target',
      'es2022',
      '--no-source-map-register',
      '--license',
      'licenses.txt',
      '-q',
    ],
    {
      stdio: 'inherit',
    },
  );
}

cpSync('src/demo/stand-in-apim', 'dist/cli/stand-in-apim', { recursive: true });
