/*
 * Imported first by bus.bench.ts: checks that the native SQLite binding loads before anything else
 * requires it, so a broken install fails with what to do instead of a stack trace.
 */
try {
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  new Database(':memory:').close();
} catch (error) {
  process.stderr.write(
    `[bench] cannot load better-sqlite3 (${(error as Error).message}).\n` +
      '[bench] Run `npm ci` in the repository root (it compiles the binding: needs g++, make and python3), then `npm run bench:bus` again.\n',
  );
  process.exit(1);
}

export {};
