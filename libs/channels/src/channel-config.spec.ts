import * as path from 'node:path';
import { CHANNEL_ENVIRONMENT, ChannelConfigError, describeChannelConfig, loadChannelConfig } from './channel-config';

const dataDir = '/srv/sigillum/var';
const smtpEnv = { OOB_EMAIL_TRANSPORT: 'smtp', SMTP_HOST: 'smtp.example.org', SMTP_FROM: 'Sigillum <no-reply@example.org>' };

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadChannelConfig(env, dataDir);
  } catch (error) {
    if (error instanceof ChannelConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ChannelConfigError');
}

describe('loadChannelConfig', () => {
  it('defaults to no transport at all, with the outbox under the data directory', () => {
    expect(loadChannelConfig({}, dataDir)).toEqual({ email: 'none', sms: 'none', fileDir: path.join(dataDir, 'outbox') });
  });

  it('reads SMTP with its defaults: port 587, STARTTLS, certificate checked, no authentication', () => {
    expect(loadChannelConfig(smtpEnv, dataDir)).toEqual({
      email: 'smtp',
      sms: 'none',
      fileDir: path.join(dataDir, 'outbox'),
      smtp: { host: 'smtp.example.org', port: 587, secure: false, from: 'Sigillum <no-reply@example.org>', tlsRejectUnauthorized: true },
    });
  });

  it('reads every SMTP setting', () => {
    const config = loadChannelConfig(
      {
        ...smtpEnv,
        SMTP_PORT: '465',
        SMTP_SECURE: 'TRUE',
        SMTP_USER: 'relay',
        SMTP_PASSWORD: ' pass word ',
        SMTP_FROM: 'no-reply@example.org',
        SMTP_TLS_REJECT_UNAUTHORIZED: 'false',
        OOB_SMS_TRANSPORT: 'kafka',
        OOB_GATEWAY_PARTY_ID: 'gw-sms-1',
        OOB_FILE_DIR: 'relative/outbox',
      },
      dataDir,
    );
    expect(config).toEqual({
      email: 'smtp',
      sms: 'kafka',
      fileDir: path.resolve('relative/outbox'),
      gatewayPartyId: 'gw-sms-1',
      smtp: {
        host: 'smtp.example.org',
        port: 465,
        secure: true,
        from: 'no-reply@example.org',
        tlsRejectUnauthorized: false,
        auth: { user: 'relay', password: ' pass word ' },
      },
    });
  });

  it('the kafka transport needs the gateway operator party id', () => {
    expect(problemsOf({ OOB_SMS_TRANSPORT: 'kafka' })).toEqual([
      'OOB_GATEWAY_PARTY_ID is required when OOB_EMAIL_TRANSPORT or OOB_SMS_TRANSPORT is kafka: set the party id of the gateway operator',
    ]);
    const config = loadChannelConfig({ OOB_EMAIL_TRANSPORT: 'kafka', OOB_SMS_TRANSPORT: 'KAFKA', OOB_GATEWAY_PARTY_ID: 'gw-1' }, dataDir);
    expect(config).toEqual({ email: 'kafka', sms: 'kafka', fileDir: path.join(dataDir, 'outbox'), gatewayPartyId: 'gw-1' });
    expect(describeChannelConfig(config)).toBe('second channels: e-mail → kafka gateway gw-1; SMS → kafka gateway gw-1');
  });

  it('ignores SMTP variables when e-mail does not go through SMTP', () => {
    expect(loadChannelConfig({ OOB_EMAIL_TRANSPORT: 'file', OOB_SMS_TRANSPORT: 'file', SMTP_PORT: 'nope' }, dataDir)).toEqual({
      email: 'file',
      sms: 'file',
      fileDir: path.join(dataDir, 'outbox'),
    });
  });

  it('lists every problem at once, each saying what to set', () => {
    const problems = problemsOf({
      OOB_EMAIL_TRANSPORT: 'smtp',
      OOB_SMS_TRANSPORT: 'smtp',
      SMTP_PORT: '70000',
      SMTP_SECURE: 'yes',
      SMTP_TLS_REJECT_UNAUTHORIZED: '0',
      SMTP_USER: 'relay',
    });
    expect(problems).toEqual([
      'OOB_SMS_TRANSPORT="smtp" must be one of kafka, file, none',
      'SMTP_HOST is required when OOB_EMAIL_TRANSPORT=smtp: set it to your SMTP relay, e.g. smtp.example.org',
      'SMTP_PORT="70000" must be an integer between 1 and 65535',
      'SMTP_SECURE="yes" must be true or false',
      'SMTP_TLS_REJECT_UNAUTHORIZED="0" must be true or false',
      'SMTP_FROM is required when OOB_EMAIL_TRANSPORT=smtp: set the sender, e.g. "Sigillum <no-reply@example.org>"',
      'SMTP_PASSWORD is required when SMTP_USER is set',
    ]);
  });

  it('refuses an unknown e-mail transport, a malformed sender and a password without a user', () => {
    expect(problemsOf({ OOB_EMAIL_TRANSPORT: 'sendmail' })).toEqual(['OOB_EMAIL_TRANSPORT="sendmail" must be one of smtp, kafka, file, none']);
    expect(problemsOf({ ...smtpEnv, SMTP_FROM: 'Sigillum', SMTP_PASSWORD: 'x' })).toEqual([
      'SMTP_FROM="Sigillum" must be an address (no-reply@example.org) or "Name <no-reply@example.org>"',
      'SMTP_USER is required when SMTP_PASSWORD is set',
    ]);
  });

  it('the error message lists the problems and never the password', () => {
    let message = '';
    try {
      loadChannelConfig({ ...smtpEnv, SMTP_PORT: 'x', SMTP_PASSWORD: 'hunter2-secret' }, dataDir);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid second-channel configuration:\n {2}- SMTP_PORT="x"/);
    expect(message).toContain('Fix the environment variables above and start again.');
    expect(message).not.toContain('hunter2-secret');
  });

  it('describes the configuration without the password', () => {
    const config = loadChannelConfig({ ...smtpEnv, SMTP_USER: 'relay', SMTP_PASSWORD: 'hunter2-secret', OOB_SMS_TRANSPORT: 'file' }, dataDir);
    const described = describeChannelConfig(config);
    expect(described).toBe(`second channels: e-mail → smtp smtp.example.org:587 as relay; SMS → file ${path.join(dataDir, 'outbox')}`);
    expect(described).not.toContain('hunter2');
  });

  it('documents every variable it reads, with a default and a help text', () => {
    for (const [name, entry] of Object.entries(CHANNEL_ENVIRONMENT)) {
      expect(name).toMatch(/^(OOB|SMTP)_[A-Z_]+$/);
      expect(typeof entry.default).toBe('string');
      expect(entry.help.length).toBeGreaterThan(10);
    }
    expect(CHANNEL_ENVIRONMENT.OOB_EMAIL_TRANSPORT.default).toBe('none');
    expect(CHANNEL_ENVIRONMENT.SMTP_PORT.default).toBe('587');
  });
});
