// `npm start`: installs dependencies when they are missing, then runs the main job
// (`ratchet dev` with the example workflows) on the Node that the project pins.
// Plain JavaScript on purpose: it may run on an older system Node before the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');
const ready = existsSync(node) && existsSync(join(root, 'node_modules', '@ratchet', 'engine'));
if (!ready) {
  console.log('Installing dependencies (first run)...');
  // `npm install` rather than `npm ci`: the lock file lacks optional platform packages (Biome's
  // builds for other systems) that some registries do not serve, which `npm ci` refuses.
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
const args = [
  join(root, 'engine', 'bin', 'ratchet.mjs'),
  'dev',
  '--workflows',
  join(root, 'sdk', 'examples', 'orders.ts'),
  '--main',
  ...process.argv.slice(2),
];
const run = spawnSync(node, args, { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
