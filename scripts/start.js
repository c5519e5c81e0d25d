#!/usr/bin/env node
// `npm start [role]`: the embedded default (every role, one process) or one role alone.
// Compiles first when dist/ is missing or older than the sources, so a fresh clone just works.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
// Written after each compile (`npm run build` too): sources newer than it (or no stamp, or no entry) mean dist/ is stale.
const stamp = path.join(root, 'dist', '.start-stamp');
if (process.argv[2] === '--built') {
  // `npm run build` just compiled: npm start need not do it again.
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.exit(0);
}
const roles = ['gateway', 'directory', 'certifier', 'domicile', 'processor', 'projections'];
const role = process.argv[2] ?? 'gateway';
if (!roles.includes(role)) {
  console.error(`Unknown role "${role}". Use one of: ${roles.join(', ')} (no argument runs everything in one process).`);
  process.exit(64);
}
const entry = path.join(root, 'dist', 'apps', role, 'src', 'main.js');
const stale = staleReason();
if (stale) {
  console.log(`Compiling (${stale}) ...`);
  const startedAt = new Date();
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  } catch {
    console.error('The TypeScript build failed (errors above); dist/ was not updated. Fix them, or run `npm run build` to see them again.');
    process.exit(1);
  }
  // Stamped with the time the compile started: a source saved during it is still newer.
  fs.writeFileSync(stamp, `${startedAt.toISOString()}\n`);
  fs.utimesSync(stamp, startedAt, startedAt);
}
require('./register-paths');
require(entry);

/** Why dist/ must be rebuilt, or undefined when it is at least as new as every source the build reads. */
function staleReason() {
  if (!fs.existsSync(entry)) return 'first start';
  if (!fs.existsSync(stamp)) return 'dist/ was not built by npm start';
  const builtAt = fs.statSync(stamp).mtimeMs;
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(root, name));
  const newer = [...configs, ...['apps', 'libs', 'scripts'].flatMap((dir) => sources(path.join(root, dir)))].find(
    (file) => fs.existsSync(file) && fs.statSync(file).mtimeMs > builtAt,
  );
  return newer ? `${path.relative(root, newer)} is newer than dist/` : undefined;
}

/** The TypeScript sources under `dir` the build compiles (tests excluded, as tsconfig.build.json does). */
function sources(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(full);
    return /\.ts$/.test(entry.name) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name) ? [full] : [];
  });
}
