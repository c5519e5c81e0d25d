// Three tiers by file suffix: *.spec.ts (pure, fast), *.int-spec.ts (real SQLite, real Kafka),
// *.e2e-spec.ts (HTTP against a running app). `npm test` runs all three.
const { compilerOptions } = require('./tsconfig.json');

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias.replace('/*', '/(.*)')}$`] = `<rootDir>/${target.replace('/*', '/$1')}`;
}

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper,
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  // Every test's name in the output, so a CI log shows which suites ran against the real broker.
  verbose: true,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/**/*.spec.ts'] },
    { ...base, displayName: 'int', testMatch: ['<rootDir>/**/*.int-spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/**/*.e2e-spec.ts'] },
  ],
};
