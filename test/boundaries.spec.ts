import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * The layout's dependency rules (.dependency-cruiser.js), checked with dependency-cruiser over the sources: no cycle,
 * no app importing another app (the gateway aside), no library importing an app, and deciders and rule modules free
 * of Nest, the store, the bus and crypto adapters. dependency-cruiser is ESM only, so it runs in a process of its own.
 */
interface Violation {
  readonly rule: string;
  readonly severity: 'error' | 'warn' | 'info';
  readonly from: string;
  readonly to: string;
  readonly cycle?: readonly string[];
}

const root = path.resolve(__dirname, '..');

function cruise(baseDir: string, folders: readonly string[]): { modules: number; violations: Violation[] } {
  const output = execFileSync(process.execPath, [path.join(root, 'test', 'cruise-boundaries.mjs'), baseDir, ...folders], {
    cwd: baseDir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output) as { modules: number; violations: Violation[] };
}

const describeViolation = (v: Violation) => `${v.severity} ${v.rule}: ${v.from} → ${v.to}${v.cycle ? ` (cycle: ${v.cycle.join(' → ')})` : ''}`;

describe('dependency boundaries', () => {
  it('apps, libs, scripts and bench break no rule', () => {
    const { modules, violations } = cruise(root, ['apps', 'libs', 'scripts', 'bench']);
    expect(modules).toBeGreaterThan(300); // the cruise saw the code base, not an empty folder
    const warnings = violations.filter((v) => v.severity !== 'error');
    if (warnings.length > 0) console.warn(`Dependency warnings:\n${warnings.map(describeViolation).join('\n')}`);
    expect(violations.filter((v) => v.severity === 'error').map(describeViolation)).toEqual([]);
  }, 180_000);

  it('finds every kind of violation in a fixture and lets the allowed imports through', () => {
    const { violations } = cruise(path.join(root, 'test', 'fixtures', 'boundaries'), ['apps', 'libs']);
    const found = violations.map((v) => `${v.severity} ${v.rule}: ${v.from} → ${v.to.replace(/^.*node_modules\//, 'node_modules/')}`).sort();
    expect(found).toEqual([
      'error app-imports-no-other-app: apps/alpha/src/alpha.ts → apps/beta/src/beta.ts',
      'error lib-imports-no-app: libs/gamma/src/gamma.ts → apps/beta/src/beta.ts',
      'error no-circular-through-types: apps/alpha/src/typed-first.ts → apps/alpha/src/typed-second.ts',
      'error no-circular: apps/alpha/src/first.ts → apps/alpha/src/second.ts',
      'error rules-are-pure: apps/alpha/src/thing.decider.ts → crypto',
      'error rules-are-pure: apps/alpha/src/thing.decider.ts → node_modules/@nestjs/common/index.js',
    ]);
  }, 180_000);
});
