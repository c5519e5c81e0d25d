// Lets a child process of the kill-and-restart test run the TypeScript sources directly (no build, no ts-node):
// transpile on require (tsconfig has isolatedModules, so per-file transpiling is exact) and resolve @sigillum/*.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '../../../..');
const { compilerOptions } = require(path.join(root, 'tsconfig.json'));

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      inlineSourceMap: true,
    },
  });
  module._compile(outputText, filename);
};
// After the .ts hook, so that tsconfig-paths also tries .ts files and index.ts.
require('tsconfig-paths').register({ baseUrl: root, paths: compilerOptions.paths });
