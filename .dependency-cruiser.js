// Dependency rules of the layout, checked by `test/boundaries.spec.ts` (so they run in `npm test`) and by hand with
// `npx depcruise --config .dependency-cruiser.js apps libs scripts bench`.

/** Tests and their fixtures may reach across apps: they play every role. */
const TESTS = '\\.(spec|int-spec|e2e-spec)\\.ts$|testing-fixtures\\.ts$|test-kit\\.ts$|/test/';

/** Pure rules: deciders and rule modules. */
const RULES = '\\.decider\\.ts$|/rules/|/policy/evaluate\\.ts$';

/**
 * What a pure rule must not touch: the framework, the store, the bus, crypto (node:crypto too) and I/O adapters.
 * Of libs/crypto only the vocabulary (ca-model) and canonical JSON are pure; of libs/runtime only the name-based ids.
 * The barrels count as adapters: they load everything.
 */
const ADAPTERS = [
  '^(node:)?crypto$',
  '(^|/)node_modules/@nestjs/',
  '(^|/)node_modules/(kafkajs|better-sqlite3|pg|@kurrent|node-forge|jose|nodemailer|smtp-server)/',
  '^libs/(eventstore|bus|channels|auth|tlog)/',
  '^libs/crypto/src/(?!(ca-model|canonical-json)\\.ts$)',
  '^libs/runtime/src/(?!ids\\.ts$)',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycle: a cycle makes load order matter and hides which module depends on which.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-circular-through-types',
      severity: 'error',
      comment: 'No cycle closed by a type-only import either: the types belong in a module both sides import.',
      from: {},
      to: { circular: true, via: { dependencyTypes: ['type-only'] } },
    },
    {
      name: 'app-imports-no-other-app',
      severity: 'error',
      comment: 'An app imports no other app; the gateway, which composes the roles, aside. Tests may reach across.',
      from: { path: '^apps/([^/]+)/', pathNot: ['^apps/gateway/', TESTS] },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'lib-imports-no-app',
      severity: 'error',
      comment: 'A library imports no app.',
      from: { path: '^libs/', pathNot: TESTS },
      to: { path: '^apps/' },
    },
    {
      name: 'rules-are-pure',
      severity: 'error',
      comment: 'Deciders and rule modules import no Nest, store, bus or crypto adapter: they are plain functions.',
      from: { path: RULES, pathNot: TESTS },
      to: { path: ADAPTERS },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-bench)/' },
    // Type-only imports count too: they tie modules together just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json'] },
    moduleSystems: ['cjs', 'es6'],
  },
};
