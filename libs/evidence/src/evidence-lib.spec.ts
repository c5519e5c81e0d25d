import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The offline verifier runs anywhere a verifier runs (a script, an auditor's machine, the certifier's route): its
 * sources import Node built-ins and @sigillum/crypto only — no Nest, no store, no bus, no app.
 */
const ALLOWED = [/^node:/, /^@sigillum\/crypto$/, /^\.\//];

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(name) && name !== 'testing-fixtures.ts')
    .map((name) => path.join(dir, name));
}

describe('libs/evidence dependencies', () => {
  it('imports only node built-ins, @sigillum/crypto and its own files', () => {
    const violations: string[] = [];
    for (const file of sources(__dirname)) {
      const text = fs.readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)) {
        if (!ALLOWED.some((rule) => rule.test(specifier))) violations.push(`${path.basename(file)} imports ${specifier}`);
      }
    }
    expect(violations).toEqual([]);
    expect(sources(__dirname).map((file) => path.basename(file))).toContain('evidence-verifier.ts');
  });
});
