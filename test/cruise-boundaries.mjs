// Runs dependency-cruiser (ESM only, so in a process of its own) with the repository's rules over the given folders
// and prints the violations as JSON: `node test/cruise-boundaries.mjs <baseDir> <folder>...`. Used by boundaries.spec.ts.
import { resolve } from 'node:path';
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const root = resolve(import.meta.dirname, '..');
const [baseDir, ...folders] = process.argv.slice(2);
const options = await extractDepcruiseOptions(resolve(root, '.dependency-cruiser.js'));
const base = resolve(baseDir);
// The repository resolves its path aliases through tsconfig.json; a fixture folder has none.
const tsConfigFile = base === root ? resolve(root, 'tsconfig.json') : undefined;
const result = await cruise(
  folders,
  { ...options, baseDir: base, tsConfig: tsConfigFile ? { fileName: tsConfigFile } : undefined },
  undefined,
  tsConfigFile ? { tsConfig: extractTSConfig(tsConfigFile) } : undefined,
);
const { summary } = result.output;
const violations = summary.violations.map((v) => ({
  rule: v.rule.name,
  severity: v.rule.severity,
  from: v.from,
  to: v.to,
  ...(v.cycle ? { cycle: v.cycle.map((step) => step.name) } : {}),
}));
process.stdout.write(JSON.stringify({ modules: summary.totalCruised, violations }));
