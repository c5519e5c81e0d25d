#!/usr/bin/env node
// `npm start [role]`: the embedded default (every role, one process) or one role alone.
// Compiles first when dist/ is missing or older than the sources, so a fresh clone just works.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const roles = ['gateway', 'directory', 'certifier', 'domicile', 'processor', 'projections'];
const role = process.argv[2] ?? 'gateway';
if (!roles.includes(role)) {
  console.error(`Unknown role "${role}". Use one of: ${roles.join(', ')} (no argument runs everything in one process).`);
  process.exit(64);
}
const entry = path.join(root, 'dist', 'apps', role, 'src', 'main.js');
if (!fs.existsSync(entry)) {
  console.log('Compiling (first start) ...');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
}
require('./register-paths');
require(entry);
