import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, ENVIRONMENT } from '@sigillum/config';
import { loadHttpsSettings } from './https-listener';

describe('HTTPS listener settings (HTTPS_PORT, TLS_*)', () => {
  let dir: string;
  let certFile: string;
  let keyFile: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-https-settings-'));
    certFile = path.join(dir, 'server.pem');
    keyFile = path.join(dir, 'server.key');
    fs.writeFileSync(certFile, 'cert');
    fs.writeFileSync(keyFile, 'key');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const problemsOf = (env: Record<string, string>, httpPort = 3000): string[] => {
    try {
      loadHttpsSettings(env, httpPort);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return [...(error as ConfigError).problems];
    }
    return [];
  };

  it('has no HTTPS listener by default, and documents every variable with its default', () => {
    expect(loadHttpsSettings({}, 3000)).toBeUndefined();
    expect(loadHttpsSettings({ HTTPS_PORT: '' }, 3000)).toBeUndefined();
    expect(ENVIRONMENT.HTTPS_PORT.default).toBe('');
    expect(ENVIRONMENT.TLS_SERVER_NAMES.default).toBe('localhost,127.0.0.1');
    expect(ENVIRONMENT.TLS_MIN_VERSION.default).toBe('TLSv1.2');
    for (const name of ['TLS_CERT_FILE', 'TLS_KEY_FILE', 'TLS_CLIENT_CA_FILE'] as const) expect(ENVIRONMENT[name].default).toBe('');
  });

  it('reads the defaults: a certificate of the process CA for localhost and 127.0.0.1, TLS 1.2 at least', () => {
    expect(loadHttpsSettings({ HTTPS_PORT: '3443' }, 3000, '127.0.0.1')).toEqual({
      port: 3443,
      host: '127.0.0.1',
      serverNames: ['localhost', '127.0.0.1'],
      minVersion: 'TLSv1.2',
    });
    expect(loadHttpsSettings({ HTTPS_PORT: '0' }, 0)?.port).toBe(0);
  });

  it('reads files, names and the minimum version', () => {
    expect(
      loadHttpsSettings(
        {
          HTTPS_PORT: '8443',
          TLS_CERT_FILE: certFile,
          TLS_KEY_FILE: keyFile,
          TLS_CLIENT_CA_FILE: certFile,
          TLS_SERVER_NAMES: ' gw.example.org , ::1 ',
          TLS_MIN_VERSION: 'TLSv1.3',
        },
        3000,
      ),
    ).toEqual({ port: 8443, host: '0.0.0.0', certFile, keyFile, clientCaFile: certFile, serverNames: ['gw.example.org', '::1'], minVersion: 'TLSv1.3' });
  });

  it('names every problem at once', () => {
    const problems = problemsOf({
      HTTPS_PORT: '70000',
      TLS_CERT_FILE: certFile,
      TLS_CLIENT_CA_FILE: path.join(dir, 'missing.pem'),
      TLS_SERVER_NAMES: 'localhost,bad name',
      TLS_MIN_VERSION: 'TLSv1.1',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^HTTPS_PORT="70000" must be an integer between 0 and 65535/),
      expect.stringMatching(/^TLS_CERT_FILE and TLS_KEY_FILE go together/),
      expect.stringMatching(/^TLS_CLIENT_CA_FILE=".*missing\.pem" cannot be read/),
      'TLS_SERVER_NAMES entry "bad name" is neither a DNS name nor an IP address',
      'TLS_MIN_VERSION="TLSv1.1" must be one of TLSv1.2, TLSv1.3',
    ]);
  });

  it('refuses the HTTP port, a directory as a file, and no names', () => {
    expect(problemsOf({ HTTPS_PORT: '3000' }, 3000)).toEqual(['HTTPS_PORT=3000 is also PORT; give the HTTPS listener a port of its own']);
    expect(problemsOf({ HTTPS_PORT: 'https' })).toEqual([expect.stringMatching(/^HTTPS_PORT="https" must be an integer/)]);
    expect(problemsOf({ HTTPS_PORT: '3443', TLS_CERT_FILE: dir, TLS_KEY_FILE: keyFile })).toEqual([expect.stringMatching(/^TLS_CERT_FILE=".*" is not a file/)]);
    expect(problemsOf({ HTTPS_PORT: '3443', TLS_SERVER_NAMES: ' , ' })).toEqual(['TLS_SERVER_NAMES must name at least one host name or IP address']);
  });
});
