import { ConfigError } from '@sigillum/config';
import { loadDomicileConfig } from './domicile.config';

describe('domicile config', () => {
  it('has the documented defaults', () => {
    expect(loadDomicileConfig({}).session).toEqual({
      presetLevel: 'substantial',
      correspondenceKinds: ['simple', 'registered', 'registered-ack', 'hybrid'],
      maxCounterparts: 50,
      maxAttempts: 3,
      lockoutSeconds: 900,
      idleSeconds: 900,
      absoluteSeconds: 28_800,
      requestWaitMs: 3000,
    });
  });

  it('reads every variable; 0 lock-out means permanent', () => {
    const config = loadDomicileConfig({
      SESSION_PRESET_LEVEL: 'high',
      SESSION_MAX_ATTEMPTS: '5',
      SESSION_LOCKOUT_SECONDS: '0',
      SESSION_IDLE_SECONDS: '120',
      SESSION_ABSOLUTE_SECONDS: '3600',
      SESSION_REQUEST_WAIT_MS: '0',
    });
    expect(config.session).toMatchObject({ presetLevel: 'high', maxAttempts: 5, lockoutSeconds: 0, idleSeconds: 120, absoluteSeconds: 3600, requestWaitMs: 0 });
  });

  it('names every problem at once', () => {
    let error: unknown;
    try {
      loadDomicileConfig({
        SESSION_PRESET_LEVEL: 'ultra',
        SESSION_MAX_ATTEMPTS: '0',
        SESSION_LOCKOUT_SECONDS: '-1',
        SESSION_IDLE_SECONDS: '1.5',
        SESSION_REQUEST_WAIT_MS: 'soon',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/SESSION_PRESET_LEVEL="ultra" must be one of low, substantial, high/);
    expect(problems.join('\n')).toMatch(/SESSION_MAX_ATTEMPTS="0" must be an integer between 1 and 10/);
    expect(problems.join('\n')).toMatch(/SESSION_LOCKOUT_SECONDS="-1"/);
    expect(problems.join('\n')).toMatch(/SESSION_IDLE_SECONDS="1.5"/);
    expect(problems.join('\n')).toMatch(/SESSION_REQUEST_WAIT_MS="soon"/);
  });

  it('refuses an absolute lifetime shorter than the idle timeout', () => {
    expect(() => loadDomicileConfig({ SESSION_IDLE_SECONDS: '3600', SESSION_ABSOLUTE_SECONDS: '600' })).toThrow(
      /SESSION_ABSOLUTE_SECONDS \(600\) must not be shorter than SESSION_IDLE_SECONDS \(3600\)/,
    );
  });
});
