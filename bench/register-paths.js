// Resolves the @sigillum/* aliases of tsconfig.json against the benchmarks' compiled tree: dist-bench/ by default, or
// BENCH_DIST (a tree built with `tsc -p bench/tsconfig.json --outDir <dir>`, so that two builds can be compared side by
// side). scripts/register-paths.js does the same for dist/.
const path = require('node:path');
const tsConfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.json');
const baseUrl = process.env.BENCH_DIST ? path.resolve(process.env.BENCH_DIST) : path.join(__dirname, '..', 'dist-bench');
tsConfigPaths.register({ baseUrl, paths: compilerOptions.paths });
