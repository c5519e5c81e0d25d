// Resolves the @sigillum/* aliases of tsconfig.json against the benchmarks' compiled tree in dist-bench/
// (scripts/register-paths.js does the same for dist/).
const path = require('node:path');
const tsConfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.json');
tsConfigPaths.register({ baseUrl: path.join(__dirname, '..', 'dist-bench'), paths: compilerOptions.paths });
