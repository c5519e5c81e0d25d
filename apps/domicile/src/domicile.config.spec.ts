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

  it('has the documented abuse limits by default, and no trusted proxy', () => {
    const config = loadDomicileConfig({});
    expect(config.sessionLimits).toEqual({ codesPerUserPerHour: 5, requestsPerAddressPerHour: 30, failedCodesPerUser: 10, failedCodesWindowMinutes: 60 });
    expect(config.trustProxy).toBe(false);
  });

  it('reads the abuse limits; 0 turns the per-address limit off', () => {
    const config = loadDomicileConfig({
      SESSION_CODES_PER_USER_PER_HOUR: '3',
      SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '0',
      SESSION_FAILED_CODES_PER_USER: '100',
      SESSION_FAILED_CODES_WINDOW_MINUTES: '15',
    });
    expect(config.sessionLimits).toEqual({ codesPerUserPerHour: 3, requestsPerAddressPerHour: 0, failedCodesPerUser: 100, failedCodesWindowMinutes: 15 });
  });

  it('names each abuse limit out of range, with its variable', () => {
    let error: unknown;
    try {
      loadDomicileConfig({
        SESSION_CODES_PER_USER_PER_HOUR: '0',
        SESSION_REQUESTS_PER_ADDRESS_PER_HOUR: '-5',
        SESSION_FAILED_CODES_PER_USER: '101',
        SESSION_FAILED_CODES_WINDOW_MINUTES: 'an hour',
      });
    } catch (caught) {
      error = caught;
    }
    const problems = (error as ConfigError).problems.join('\n');
    expect((error as ConfigError).problems).toHaveLength(4);
    expect(problems).toMatch(/SESSION_CODES_PER_USER_PER_HOUR="0" must be an integer between 1 and 10000 \(session requests and resends/);
    expect(problems).toMatch(/SESSION_REQUESTS_PER_ADDRESS_PER_HOUR="-5" must be an integer between 0 and 1000000/);
    expect(problems).toMatch(/SESSION_FAILED_CODES_PER_USER="101" must be an integer between 1 and 100/);
    expect(problems).toMatch(/SESSION_FAILED_CODES_WINDOW_MINUTES="an hour" must be an integer between 1 and 1440/);
  });

  it.each([
    ['false', false],
    ['TRUE', true],
    ['2', 2],
    ['loopback', ['loopback']],
    ['10.0.0.0/8, 192.0.2.1,2001:db8::/32,uniquelocal', ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32', 'uniquelocal']],
  ])('reads TRUST_PROXY=%s', (raw, expected) => {
    expect(loadDomicileConfig({ TRUST_PROXY: raw }).trustProxy).toEqual(expected);
  });

  it.each([
    ['0', /TRUST_PROXY="0" must be false, true, a number of hops between 1 and 10/],
    ['11', /TRUST_PROXY="11"/],
    ['proxy.example.org', /TRUST_PROXY="proxy.example.org" must be .*not "proxy.example.org"/],
    ['10.0.0.0/33', /not "10.0.0.0\/33"/],
    ['loopback,,', /not ""/],
  ])('refuses TRUST_PROXY=%s', (raw, message) => {
    expect(() => loadDomicileConfig({ TRUST_PROXY: raw })).toThrow(message);
  });

  it('refuses an absolute lifetime shorter than the idle timeout', () => {
    expect(() => loadDomicileConfig({ SESSION_IDLE_SECONDS: '3600', SESSION_ABSOLUTE_SECONDS: '600' })).toThrow(
      /SESSION_ABSOLUTE_SECONDS \(600\) must not be shorter than SESSION_IDLE_SECONDS \(3600\)/,
    );
  });

  it('reads CHANNEL_COOLING_HOURS as the certifier does (24 by default, 0 to 720 whole hours)', () => {
    expect(loadDomicileConfig({}).channelCoolingHours).toBe(24);
    expect(loadDomicileConfig({ CHANNEL_COOLING_HOURS: '0' }).channelCoolingHours).toBe(0);
    expect(loadDomicileConfig({ CHANNEL_COOLING_HOURS: '720' }).channelCoolingHours).toBe(720);
    expect(() => loadDomicileConfig({ CHANNEL_COOLING_HOURS: '1.5' })).toThrow(/CHANNEL_COOLING_HOURS="1.5" must be an integer between 0 and 720/);
    expect(() => loadDomicileConfig({ CHANNEL_COOLING_HOURS: '721' })).toThrow(/CHANNEL_COOLING_HOURS="721"/);
  });
});
