import { sign as cryptoSign } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalize, CertificateAuthority, FileKeyStore, generateKeyPair, signJwsDetached, verifyJwsDetached } from '@sigillum/crypto';
import { verifiesQuickly } from './quoted-signature-facts';

// The quick check of a quoted acknowledgement says yes only where verifyJwsDetached says yes: every way a signature
// can fail is sent back to verifyJwsDetached (which names the failure), and the genuine one is accepted quickly.

const now = new Date();
const day = 24 * 3600 * 1000;
let directory: string;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
const key = generateKeyPair('Ed25519');
const otherKey = generateKeyPair('Ed25519');
let pem: string;
let foreignPem: string;

beforeAll(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-quoted-signature-facts-'));
  const open = (name: string) => FileKeyStore.open({ directory: path.join(directory, name), passphrase: 'a test passphrase, not a secret' });
  ca = CertificateAuthority.loadOrCreate(open('ca'), { commonName: 'CA', organisation: 'Sigillum tests', validityDays: 30, now }).ca;
  otherCa = CertificateAuthority.loadOrCreate(open('other'), { commonName: 'CA', organisation: 'Sigillum tests', validityDays: 30, now }).ca;
  const issue = (authority: CertificateAuthority, days = 30) =>
    authority.issue({
      subject: { commonName: 'Operator', organisation: 'Processing Co' },
      publicKeyPem: key.publicKeyPem,
      profile: 'signing',
      validityDays: days,
      now,
    }).certificatePem;
  pem = issue(ca);
  foreignPem = issue(otherCa);
});
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

const payload = { tokenId: 't-1', tokenDigest: 'a'.repeat(64), acknowledgedAt: now.toISOString() };
const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** A detached JWS with a header of our own making (signed as given, so only the header rule can refuse it). */
function withHeader(header: Record<string, unknown>, privateKey = key.privateKey, body: unknown = payload): string {
  const encoded = b64url(JSON.stringify(header));
  const signature = cryptoSign(null, Buffer.from(`${encoded}.${b64url(canonicalize(body))}`, 'ascii'), privateKey);
  return `${encoded}..${signature.toString('base64url')}`;
}

function slowAccepts(compact: string, body: unknown, certificates: string, at: Date): boolean {
  try {
    verifyJwsDetached(compact, body, { trustedCaPem: ca.caCertificatePem, expectedAlg: 'EdDSA', at, certificates });
    return true;
  } catch {
    return false;
  }
}

describe('verifiesQuickly: a quoted acknowledgement accepted only where verifyJwsDetached accepts it', () => {
  it('accepts the genuine signature, and refuses (for verifyJwsDetached to judge) each altered one', () => {
    const genuine = signJwsDetached(payload, { privateKey: key.privateKey, alg: 'EdDSA', kid: 'key-1', x5tCertificatePem: pem });
    const [header, , signature] = genuine.split('.');
    const x5t = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, string>)['x5t#S256'];
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    const cases: { name: string; compact: string; body?: unknown; certificates?: string; at?: Date; quick: boolean }[] = [
      { name: 'genuine', compact: genuine, quick: true },
      { name: 'another payload', compact: genuine, body: { ...payload, tokenDigest: 'b'.repeat(64) }, quick: false },
      { name: 'signature altered', compact: `${header}..${flipped}`, quick: false },
      { name: 'signature not canonical base64url', compact: `${header}..${signature}=`, quick: false },
      { name: 'signature cut', compact: `${header}..${signature.slice(0, 40)}`, quick: false },
      { name: 'payload not detached', compact: `${header}.${b64url(canonicalize(payload))}.${signature}`, quick: false },
      { name: 'a fourth part', compact: `${genuine}.x`, quick: false },
      { name: 'before the certificate', compact: genuine, at: new Date(now.getTime() - day), quick: false },
      { name: 'after the certificate', compact: genuine, at: new Date(now.getTime() + 40 * day), quick: false },
      { name: 'a certificate of another CA', compact: genuine, certificates: foreignPem, quick: false },
      { name: 'crit', compact: withHeader({ alg: 'EdDSA', crit: ['x'], 'x5t#S256': x5t }), quick: false },
      { name: 'b64', compact: withHeader({ alg: 'EdDSA', b64: true, 'x5t#S256': x5t }), quick: false },
      { name: 'kid not a string', compact: withHeader({ alg: 'EdDSA', kid: 7, 'x5t#S256': x5t }), quick: false },
      { name: 'alg RS256', compact: withHeader({ alg: 'RS256', 'x5t#S256': x5t }), quick: false },
      { name: 'alg none', compact: withHeader({ alg: 'none', 'x5t#S256': x5t }), quick: false },
      { name: 'x5c beside x5t', compact: withHeader({ alg: 'EdDSA', x5c: ['AAAA'], 'x5t#S256': x5t }), quick: false },
      { name: 'another thumbprint', compact: withHeader({ alg: 'EdDSA', 'x5t#S256': 'A'.repeat(43) }), quick: false },
      { name: 'another signer key', compact: withHeader({ alg: 'EdDSA', 'x5t#S256': x5t }, otherKey.privateKey), quick: false },
      { name: 'header of our own making, valid', compact: withHeader({ alg: 'EdDSA', kid: 'k', 'x5t#S256': x5t }), quick: true },
    ];
    for (const item of cases) {
      const body = item.body ?? payload;
      const certificates = item.certificates ?? pem;
      const at = item.at ?? now;
      const quick = verifiesQuickly(item.compact, body, certificates, ca.caCertificatePem, at);
      expect({ name: item.name, quick }).toEqual({ name: item.name, quick: item.quick });
      expect({ name: item.name, slow: slowAccepts(item.compact, body, certificates, at) }).toEqual({ name: item.name, slow: item.quick });
    }
  });
});
