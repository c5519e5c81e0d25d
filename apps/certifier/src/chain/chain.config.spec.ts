import { ChainConfigError, loadChainConfig } from './chain.config';

describe('chain configuration', () => {
  it('defaults: 60 s to acknowledge, 3 attempts per step, reroute on, 2 manual retries', () => {
    expect(loadChainConfig({})).toEqual({ ackSeconds: 60, maxAttempts: 3, reroute: true, manualRetries: 2 });
  });

  it('reads every variable (blank means the default)', () => {
    expect(loadChainConfig({ CHAIN_ACK_SECONDS: '5', CHAIN_MAX_ATTEMPTS: '1', CHAIN_REROUTE: 'FALSE', CHAIN_MANUAL_RETRIES: '0' })).toEqual({
      ackSeconds: 5,
      maxAttempts: 1,
      reroute: false,
      manualRetries: 0,
    });
    expect(loadChainConfig({ CHAIN_ACK_SECONDS: ' ', CHAIN_MAX_ATTEMPTS: '', CHAIN_REROUTE: '', CHAIN_MANUAL_RETRIES: ' ' })).toEqual({
      ackSeconds: 60,
      maxAttempts: 3,
      reroute: true,
      manualRetries: 2,
    });
  });

  it('refuses bad values, naming each variable and its rule at once', () => {
    let error: unknown;
    try {
      loadChainConfig({ CHAIN_ACK_SECONDS: '0', CHAIN_MAX_ATTEMPTS: '2.5', CHAIN_REROUTE: 'maybe', CHAIN_MANUAL_RETRIES: 'two' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ChainConfigError);
    const { problems, message } = error as ChainConfigError;
    expect(problems).toEqual([
      'CHAIN_ACK_SECONDS="0" must be an integer between 1 and 86400',
      'CHAIN_MAX_ATTEMPTS="2.5" must be an integer between 1 and 10',
      'CHAIN_MANUAL_RETRIES="two" must be an integer between 0 and 10',
      'CHAIN_REROUTE="maybe" must be true or false',
    ]);
    expect(message).toMatch(/start again/);
  });

  it('refuses values out of range', () => {
    expect(() => loadChainConfig({ CHAIN_MAX_ATTEMPTS: '11' })).toThrow(/CHAIN_MAX_ATTEMPTS="11"/);
    expect(() => loadChainConfig({ CHAIN_ACK_SECONDS: '86401' })).toThrow(/CHAIN_ACK_SECONDS="86401"/);
    expect(() => loadChainConfig({ CHAIN_ACK_SECONDS: '-1' })).toThrow(/CHAIN_ACK_SECONDS="-1"/);
    expect(() => loadChainConfig({ CHAIN_MANUAL_RETRIES: '11' })).toThrow(/CHAIN_MANUAL_RETRIES="11"/);
    expect(() => loadChainConfig({ CHAIN_MANUAL_RETRIES: '-1' })).toThrow(/CHAIN_MANUAL_RETRIES="-1"/);
  });
});
