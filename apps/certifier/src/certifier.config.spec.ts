import { CertifierConfigError, loadCertifierConfig } from './certifier.config';

describe('loadCertifierConfig', () => {
  it('gives the defaults when nothing is set', () => {
    expect(loadCertifierConfig({})).toEqual({
      sessionCodeLength: 6,
      sessionCodeTtlSeconds: 300,
      sessionResendIntervalSeconds: 30,
      sessionMaxResends: 3,
      chainOperators: {},
      oobSendConcurrency: 16,
      oobSendDrainSeconds: 10,
      channelCoolingHours: 24,
    });
  });

  it('reads every variable', () => {
    expect(
      loadCertifierConfig({
        SESSION_CODE_LENGTH: '8',
        SESSION_CODE_TTL_SECONDS: '120',
        SESSION_RESEND_INTERVAL_SECONDS: '0',
        SESSION_MAX_RESENDS: '5',
        CHAIN_OPERATORS: 'seal=op-1, deliver=op-2',
        OOB_SEND_CONCURRENCY: '4',
        OOB_SEND_DRAIN_SECONDS: '0',
        CHANNEL_COOLING_HOURS: '0',
      }),
    ).toEqual({
      sessionCodeLength: 8,
      sessionCodeTtlSeconds: 120,
      sessionResendIntervalSeconds: 0,
      sessionMaxResends: 5,
      chainOperators: { seal: 'op-1', deliver: 'op-2' },
      oobSendConcurrency: 4,
      oobSendDrainSeconds: 0,
      channelCoolingHours: 0,
    });
  });

  it('lists every problem at once', () => {
    try {
      loadCertifierConfig({
        SESSION_CODE_LENGTH: '4',
        SESSION_CODE_TTL_SECONDS: 'five minutes',
        SESSION_MAX_RESENDS: '-1',
        CHANNEL_COOLING_HOURS: '1.5',
        CHAIN_OPERATORS: 'seal=a,seal=b,fold=c,deliver',
      });
      throw new Error('expected a CertifierConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(CertifierConfigError);
      expect((error as CertifierConfigError).problems).toEqual([
        'SESSION_CODE_LENGTH="4" must be an integer between 6 and 12',
        'SESSION_CODE_TTL_SECONDS="five minutes" must be an integer between 30 and 3600',
        'SESSION_MAX_RESENDS="-1" must be an integer between 0 and 20',
        'CHANNEL_COOLING_HOURS="1.5" must be an integer between 0 and 720',
        'CHAIN_OPERATORS names step "seal" twice; give one operator per step',
        'CHAIN_OPERATORS entry "fold=c": step "fold" must be one of seal, timestamp, deliver, archive, print-and-post',
        'CHAIN_OPERATORS entry "deliver" must be step=partyId (e.g. seal=3f1c…)',
      ]);
      expect((error as Error).message).toContain('The certifier configuration is invalid:\n  - SESSION_CODE_LENGTH');
    }
  });
});
