import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The layout's dependency rules, checked on the sources: an app never imports another app (the gateway, the one
 * composition root, aside), and a library never imports an app. Tests may reach across (they play every role).
 */
const root = path.resolve(__dirname, '../../..');
const APPS = fs.readdirSync(path.join(root, 'apps')).filter((name) => fs.statSync(path.join(root, 'apps', name)).isDirectory());

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(full);
    return /\.ts$/.test(entry.name) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name) && !/testing-fixtures\.ts$|test-kit\.ts$/.test(entry.name) ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((match) => match[1]);
}

/** The app a relative import of `file` lands in, if any. */
function appOf(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = path.relative(path.join(root, 'apps'), path.resolve(path.dirname(file), specifier));
  if (target.startsWith('..')) return undefined;
  return target.split(path.sep)[0];
}

describe('dependency rules', () => {
  it('an app imports no other app (the gateway composes them)', () => {
    const violations: string[] = [];
    for (const app of APPS.filter((name) => name !== 'gateway')) {
      for (const file of sources(path.join(root, 'apps', app, 'src'))) {
        for (const specifier of importsOf(file)) {
          const target = appOf(file, specifier);
          if (target && target !== app) violations.push(`${path.relative(root, file)} imports ${specifier}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('a library imports no app', () => {
    const violations: string[] = [];
    for (const lib of fs.readdirSync(path.join(root, 'libs'))) {
      const dir = path.join(root, 'libs', lib, 'src');
      if (!fs.existsSync(dir)) continue;
      for (const file of sources(dir)) {
        for (const specifier of importsOf(file)) if (appOf(file, specifier)) violations.push(`${path.relative(root, file)} imports ${specifier}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('finds a violation when there is one (the check is not blind)', () => {
    const file = path.join(root, 'apps', 'certifier', 'src', 'x.ts');
    expect(appOf(file, '../../domicile/src/session/session.decider')).toBe('domicile');
    expect(appOf(file, './chain/chain.service')).toBe('certifier');
    expect(appOf(file, '@sigillum/contracts')).toBeUndefined();
  });
});
