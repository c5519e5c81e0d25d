// Offline verification of a correspondence's evidence chain, without trusting the server that served it:
//
//   npm run verify:evidence -- <correspondenceId> [--url http://127.0.0.1:3000] [--export evidence.json]
//   npm run verify:evidence -- --file evidence.json [--ca ca.pem]
//
// It fetches GET /evidence/:correspondenceId and GET /ca/certificate from a running Sigillum (or reads an export),
// then checks every record locally: the digest, the link to the record before, contiguous indexes and, for records
// signed one by one (EVIDENCE_RECORD_SIGNATURES=jws), the JWS (EdDSA, certificate by x5t#S256 or x5c, to the CA) and
// its payload = the canonical record. Records are proven by the evidence log: for that proof (inclusion in a signed
// checkpoint, truncation found) use `npm run audit -- export` and `verify`. Exit 0: valid; 1: invalid; 2: could not verify.
import * as fs from 'node:fs';
import { type EvidenceVerdict, verifyEvidenceChain, verifyProcessingSignatures } from '@sigillum/evidence';

const USAGE = `Usage:
  npm run verify:evidence -- <correspondenceId> [--url http://127.0.0.1:3000] [--export evidence.json] [--at <ISO time>]
  npm run verify:evidence -- --file evidence.json [--ca ca.pem] [--at <ISO time>]

  <correspondenceId>  fetch GET /evidence/<id> and GET /ca/certificate from the running Sigillum at --url
  --file              verify an export instead (the body of GET /evidence/<id>, or what --export wrote)
  --ca                the CA certificate (PEM) to trust; needed with --file unless the export carries it
  --export            also save what was fetched (records and CA certificate) for later, offline checks
  --at                check certificates at this time instead of when each record was signed
Credentials (the evidence route is not public): SIGILLUM_TOKEN, an auditor's staff token (or a party's session
credential, with SIGILLUM_SESSION naming its session: a party reads the evidence of its own correspondence only).
They are read from the environment, never from the command line, so they stay out of shell history and ps.
Exit status: 0 valid, 1 invalid, 2 could not verify (usage, network, unreadable files).`;

class UsageError extends Error {}

interface Options {
  correspondenceId?: string;
  url: string;
  file?: string;
  ca?: string;
  exportTo?: string;
  at?: Date;
}

function parseArguments(argv: readonly string[]): Options {
  const options: Options = { url: 'http://127.0.0.1:3000' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case '--url':
        options.url = value().replace(/\/+$/, '');
        break;
      case '--file':
        options.file = value();
        break;
      case '--ca':
        options.ca = value();
        break;
      case '--export':
        options.exportTo = value();
        break;
      case '--at': {
        const text = value();
        const at = new Date(text);
        if (Number.isNaN(at.getTime())) throw new UsageError(`--at "${text}" is not an ISO-8601 time (e.g. 2026-03-02T09:00:00Z)`);
        options.at = at;
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        if (arg.startsWith('--')) throw new UsageError(`Unknown option ${arg}`);
        if (options.correspondenceId) throw new UsageError(`One correspondence at a time (got ${options.correspondenceId} and ${arg})`);
        options.correspondenceId = arg;
    }
  }
  if (!options.file && !options.correspondenceId) throw new UsageError('Name a correspondence id, or an exported file with --file');
  if (options.file && options.correspondenceId) throw new UsageError('Give either a correspondence id or --file, not both');
  return options;
}

interface Evidence {
  readonly correspondenceId: string | null;
  readonly records: unknown[];
  readonly caCertificatePem: string;
  /** The certificate per-record JWS name by x5t#S256 (GET /evidence/:id serves it). */
  readonly signingCertificate?: string;
  /** The operator certificates the records' quoted signatures name by x5t#S256, by thumbprint (GET /evidence/:id serves them). */
  readonly certificates?: Record<string, string>;
}

/** The caller's credentials, from the environment only. */
function credentialHeaders(): Record<string, string> {
  const token = process.env.SIGILLUM_TOKEN?.trim();
  const session = process.env.SIGILLUM_SESSION?.trim();
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(token && session ? { 'x-sigillum-session': session } : {}) };
}

async function fetchText(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json, application/x-pem-file', ...credentialHeaders() } });
  } catch (error) {
    throw new Error(
      `Cannot reach ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}. Is Sigillum running there? Pass --url to point elsewhere.`,
    );
  }
  const body = await response.text();
  if (response.status === 404)
    throw new Error(`${url} answered 404: ${messageOf(body)}. Check the correspondence id (GET /mailbox/<partyId>/outbox lists yours).`);
  if (response.status === 401 || response.status === 403) {
    throw new Error(
      `${url} answered ${response.status}: ${messageOf(body)}. Set SIGILLUM_TOKEN to an auditor's staff token (or a party's session credential with SIGILLUM_SESSION).`,
    );
  }
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}: ${messageOf(body)}`);
  return body;
}

function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

function recordsOf(
  body: unknown,
  where: string,
): { correspondenceId: string | null; records: unknown[]; caCertificatePem?: string; signingCertificate?: string; certificates?: Record<string, string> } {
  if (Array.isArray(body)) return { correspondenceId: null, records: body };
  if (typeof body === 'object' && body !== null && Array.isArray((body as { records?: unknown }).records)) {
    const object = body as { correspondenceId?: unknown; records: unknown[]; caCertificatePem?: unknown; signingCertificate?: unknown; certificates?: unknown };
    return {
      correspondenceId: typeof object.correspondenceId === 'string' ? object.correspondenceId : null,
      records: object.records,
      ...(typeof object.caCertificatePem === 'string' ? { caCertificatePem: object.caCertificatePem } : {}),
      ...(typeof object.signingCertificate === 'string' ? { signingCertificate: object.signingCertificate } : {}),
      ...(typeof object.certificates === 'object' && object.certificates !== null ? { certificates: object.certificates as Record<string, string> } : {}),
    };
  }
  throw new Error(`${where} is not evidence: expected the body of GET /evidence/<id> ({ "records": [...] }) or an array of records`);
}

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function load(options: Options): Promise<Evidence> {
  if (options.file) {
    let body: unknown;
    try {
      body = JSON.parse(readFile(options.file, 'the evidence file'));
    } catch (error) {
      if (error instanceof SyntaxError) throw new Error(`${options.file} is not JSON: ${error.message}`);
      throw error;
    }
    const parsed = recordsOf(body, options.file);
    const caCertificatePem = options.ca ? readFile(options.ca, 'the CA certificate') : parsed.caCertificatePem;
    if (!caCertificatePem)
      throw new UsageError(`${options.file} carries no CA certificate: pass --ca ca.pem (from GET /ca/certificate of the issuing Sigillum)`);
    return {
      correspondenceId: parsed.correspondenceId,
      records: parsed.records,
      caCertificatePem,
      ...(parsed.signingCertificate ? { signingCertificate: parsed.signingCertificate } : {}),
      ...(parsed.certificates ? { certificates: parsed.certificates } : {}),
    };
  }
  const id = encodeURIComponent(options.correspondenceId as string);
  const [evidenceText, caText] = await Promise.all([
    fetchText(`${options.url}/evidence/${id}`),
    options.ca ? Promise.resolve('') : fetchText(`${options.url}/ca/certificate`),
  ]);
  const parsed = recordsOf(JSON.parse(evidenceText) as unknown, `${options.url}/evidence/${id}`);
  const caCertificatePem = options.ca ? readFile(options.ca, 'the CA certificate') : caText;
  if (!caCertificatePem.includes('BEGIN CERTIFICATE')) throw new Error(`${options.url}/ca/certificate did not return a PEM certificate`);
  return {
    correspondenceId: parsed.correspondenceId ?? (options.correspondenceId as string),
    records: parsed.records,
    caCertificatePem,
    ...(parsed.signingCertificate ? { signingCertificate: parsed.signingCertificate } : {}),
    ...(parsed.certificates ? { certificates: parsed.certificates } : {}),
  };
}

function report(evidence: Evidence, verdict: EvidenceVerdict): string {
  const lines = [`Correspondence ${verdict.correspondenceId ?? evidence.correspondenceId ?? '(unnamed)'}: ${evidence.records.length} evidence record(s)`];
  for (const record of verdict.records) {
    const digest = record.recordDigest ? `${record.recordDigest.slice(0, 16)}…` : '-';
    lines.push(
      `  #${String(record.chainIndex ?? record.index).padEnd(3)} ${record.valid ? 'ok     ' : 'INVALID'} ${String(record.eventName ?? '?').padEnd(42)} ${digest}`,
    );
    for (const problem of record.problems) lines.push(`        ${problem.rule}: ${problem.message}`);
  }
  if (evidence.records.length === 0) lines.push('  (no evidence recorded yet: the correspondence is known but nothing was evidenced; try again in a moment)');
  const signed = verdict.records.filter((record) => record.signed).length;
  lines.push(
    !verdict.valid
      ? `INVALID: ${verdict.problems.length} problem(s). The evidence was altered, reordered or cut, or was not signed under this CA.`
      : signed === verdict.records.length && signed > 0
        ? 'VALID: every signature leads to the CA, every record is exactly what was signed, and the chain is unbroken.'
        : `VALID chain: every digest and link holds (${signed} of ${verdict.records.length} record(s) carry a signature of their own, all valid).`,
  );
  lines.push(
    'Note: the records are proven by the evidence log, and a chain cut after its last record still verifies here: for the proof (inclusion in a signed checkpoint, truncation found), run npm run audit -- export and verify.',
  );
  return lines.join('\n');
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const evidence = await load(options);
    if (options.exportTo) {
      const saved = {
        correspondenceId: evidence.correspondenceId,
        records: evidence.records,
        caCertificatePem: evidence.caCertificatePem,
        ...(evidence.signingCertificate ? { signingCertificate: evidence.signingCertificate } : {}),
        ...(evidence.certificates ? { certificates: evidence.certificates } : {}),
      };
      fs.writeFileSync(options.exportTo, `${JSON.stringify(saved, null, 2)}\n`);
      process.stdout.write(`Saved the evidence and the CA certificate to ${options.exportTo} (verify it later with --file).\n`);
    }
    const verdict = verifyEvidenceChain(evidence.records, evidence.caCertificatePem, {
      ...(options.at ? { at: options.at } : {}),
      ...(evidence.signingCertificate ? { certificates: [evidence.signingCertificate] } : {}),
    });
    process.stdout.write(`${report(evidence, verdict)}\n`);
    // The operators' signatures the records quote (certificates by x5t#S256 from `certificates`, or x5c), to the CA.
    const quoted = verifyProcessingSignatures(evidence.records, evidence.caCertificatePem, evidence.certificates ?? {});
    for (const problem of quoted) process.stdout.write(`INVALID record ${problem.index}: ${problem.rule}: ${problem.message}\n`);
    return verdict.valid && quoted.length === 0 ? 0 : 1;
  } catch (error) {
    process.stderr.write(`Could not verify: ${(error as Error).message}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
    return 2;
  }
}

main().then((code) => process.exit(code));
