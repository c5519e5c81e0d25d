import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** Requires TypeScript sources with their @sigillum aliases in a child Node process (`node -r <this> -e <script>`). */
export const TS_REGISTER = path.resolve(__dirname, 'event-bus-restart', 'ts-register.js');

/**
 * Runs `script` (TypeScript allowed, through TS_REGISTER) in a child Node process and kills it with SIGKILL as soon as
 * it writes its first output line: the crash at a known instant that a durability test needs. Resolves with the
 * signal; rejects with the child's stderr if it exits by itself first.
 */
export function killedAtFirstOutput(script: string): Promise<NodeJS.Signals> {
  const child = spawn(process.execPath, ['-r', TS_REGISTER, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<NodeJS.Signals>((resolve, reject) => {
    child.stdout.once('data', () => child.kill('SIGKILL'));
    child.once('error', reject);
    child.once('exit', (code, killedBy) => (killedBy === 'SIGKILL' ? resolve(killedBy) : reject(new Error(`exit ${code}: ${stderr}`))));
  });
}
