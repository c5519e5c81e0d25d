import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const TS_REGISTER = path.join(ROOT, 'libs', 'testing', 'src', 'event-bus-restart', 'ts-register.js');

/**
 * What a process started by runSigillum prints before its app exists (ROLE_THREADS: the supervisor of a role thread
 * logs as soon as the thread is up, while the main app is still being built) is JSON too, like every line after.
 * A child process: the static Nest logger is per process, and this one must start from Nest's default.
 */
describe('runSigillum: JSON log lines from the first one', () => {
  it('logs through the JSON logger while the roles are being chosen, before any app is created', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-start-logging-'));
    try {
      const script = `
        const { Logger } = require('@nestjs/common');
        const { runSigillum } = require('@sigillum/runtime');
        void runSigillum('probe', () => {
          new Logger('RoleThread(probe)').log('probe runs on a worker thread of its own');
          process.exit(0);
        });`;
      const output = execFileSync(process.execPath, ['-r', TS_REGISTER, '-e', script], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'log' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      const lines = output.split('\n').filter((line) => line.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ level: 'info', context: 'RoleThread(probe)', msg: 'probe runs on a worker thread of its own' });
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
