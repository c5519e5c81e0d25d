import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The tree the code runs from (the repository for TypeScript sources, dist/ when compiled): `@sigillum/<lib>[/<path>]`
 * is `<root>/libs/<lib>/src[/<path>]` there (tsconfig.json's paths, all of that form).
 */
const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * The workers' entry, plain CommonJS (as the WAL checkpointer's) so that it starts the same from the compiled dist and
 * under ts-jest: it resolves the @sigillum aliases itself (the main thread's resolver, tsconfig-paths or Jest's, is
 * not inherited), and from TypeScript sources compiles each module as it is required (typescript's transpileModule,
 * the repository's compiler options that change the output), then runs the entry module's exported function `run`
 * with the worker's data and port. A failure to load or run it is posted as `{ type: 'failed', message }`.
 */
const WORKER_SOURCE = String.raw`
const Module = require('node:module');
const path = require('node:path');
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { root, entry, run, data } = workerData;
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const alias = /^@sigillum\/([^/]+)(\/.*)?$/.exec(request);
  return resolve.call(this, alias ? path.join(root, 'libs', alias[1], 'src', alias[2] || '') : request, ...rest);
};
if (entry.endsWith('.ts')) {
  const ts = require('typescript');
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true,
    experimentalDecorators: true, emitDecoratorMetadata: true, sourceMap: false, inlineSourceMap: false,
  };
  Module._extensions['.ts'] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions, fileName: filename });
    module._compile(outputText, filename);
  };
}
Promise.resolve()
  .then(() => require(entry)[run](data, parentPort))
  .catch((error) => parentPort.postMessage({ type: 'failed', message: String(error) }));
`;

/**
 * A worker thread running `run(data, port)` of the module `entry` (a file of this tree: .ts under ts-node or Jest,
 * .js in dist/), with the @sigillum aliases resolved as in the main thread. `env`: its own copy of the environment
 * (Node's default: a copy of the main thread's).
 */
export function startSourceWorker(entry: string, run: string, data: unknown, options: { readonly env?: NodeJS.ProcessEnv } = {}): Worker {
  return new Worker(WORKER_SOURCE, { eval: true, workerData: { root: ROOT, entry, run, data }, execArgv: [], ...(options.env && { env: options.env }) });
}
