import * as fs from 'node:fs';
import { verifyTimeStampToken } from '@sigillum/crypto/timestamp';
import { BUNDLE_FORMAT, type Bundle, type BundleCorrespondence, type BundleRecord } from './bundle';
import { UsageError } from './errors';
import type { AuditClient } from './http';
import { progress } from './progress';

interface EvidenceAnswer {
  /** The certificate per-record JWS name by x5t#S256 (absent from servers before optional signing). */
  signingCertificate?: string;
  /** The operator certificates the records' quoted signatures name by x5t#S256, by thumbprint (absent from older servers). */
  certificates?: Record<string, string>;
  records: {
    evidenceId: string;
    chainIndex: number;
    eventName: string;
    record: Record<string, unknown>;
    recordDigest: string;
    previousEvidenceDigest: string | null;
    jws?: string;
    recordedAt?: string;
  }[];
}

interface ProofAnswer {
  verifierKey: string;
  checkpoint: { note: string; signedAt?: string; timeStampToken?: string; treeSize: number } | null;
  /** The log's signed completeness statement (absent from servers before it). */
  completeness?: string | null;
  records: { evidenceId: string; leafIndex: number | null; inclusionProof: string[] | null }[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ExportOptions {
  readonly correspondences: readonly string[];
  readonly parties: readonly string[];
  readonly since?: Date;
  readonly until?: Date;
  readonly out: string;
  /** How long to wait for a checkpoint to cover fresh records (ms). */
  readonly waitMs: number;
}

/** The correspondences in which a party appears (GET /audit/parties/:partyId, paged), within [since, until] by evidence time. */
async function correspondencesOfParty(client: AuditClient, partyId: string, since?: Date, until?: Date): Promise<string[]> {
  const ids = new Set<string>();
  for (let offset = 0; ; offset += 100) {
    const page = await client.json<{ items: { correspondenceId: string; eventTime: string | null }[]; total: number }>(
      `/audit/parties/${encodeURIComponent(partyId)}?limit=100&offset=${offset}`,
    );
    for (const item of page.items) {
      const at = item.eventTime ? Date.parse(item.eventTime) : NaN;
      if (since && !(at >= since.getTime())) continue;
      if (until && !(at <= until.getTime())) continue;
      ids.add(item.correspondenceId);
    }
    if (page.items.length === 0 || offset + page.items.length >= page.total) break;
  }
  return [...ids];
}

interface RangePage {
  items: { correspondenceId: string; firstEvidenceTime: string }[];
  next: string | null;
}

/** The server's largest page of GET /audit/correspondences. */
const RANGE_PAGE = 500;

/**
 * Every correspondence whose first evidence (the sender's submission) is at or after `since` and at or before
 * `until` (GET /audit/correspondences, paged by its `next` cursor; the server's range is half-open, so `until` is
 * sent 1 ms later). One progress line per page on stderr.
 */
async function correspondencesInRange(client: AuditClient, since: Date | undefined, until: Date | undefined, note: (line: string) => void): Promise<string[]> {
  const range = new URLSearchParams({ limit: String(RANGE_PAGE) });
  if (since) range.set('since', since.toISOString());
  if (until) range.set('until', new Date(until.getTime() + 1).toISOString());
  const ids = new Set<string>();
  let after: string | null = null;
  for (let pageNumber = 1; ; pageNumber += 1) {
    const query = new URLSearchParams(range);
    if (after) query.set('after', after);
    const page: RangePage = await client.json<RangePage>(`/audit/correspondences?${query.toString()}`);
    for (const item of page.items) ids.add(item.correspondenceId);
    const last = page.items[page.items.length - 1];
    note(
      `list page ${pageNumber}: ${ids.size} correspondence(s)${last ? ` (submitted up to ${last.firstEvidenceTime})` : ''}${page.next ? ', more to come' : ''}`,
    );
    if (!page.next || page.next === after || page.items.length === 0) break;
    after = page.next;
  }
  return [...ids];
}

/** One correspondence: its records with JWS, joined to their leaves and proofs, waiting until a checkpoint covers all. */
async function exportOne(
  client: AuditClient,
  correspondenceId: string,
  waitMs: number,
): Promise<{ item: BundleCorrespondence; verifierKey: string; signingCertificate?: string; certificates: Record<string, string> }> {
  const id = encodeURIComponent(correspondenceId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const evidence = await client.json<EvidenceAnswer>(`/evidence/${id}`);
    const proof = await client.json<ProofAnswer>(`/evidence/${id}/proof`);
    const leaves = new Map(proof.records.map((leaf) => [leaf.evidenceId, leaf]));
    const covered =
      evidence.records.length > 0 &&
      evidence.records.every((record) => leaves.get(record.evidenceId)?.inclusionProof != null) &&
      proof.records.length === evidence.records.length;
    if (covered || Date.now() >= deadline) {
      const records: BundleRecord[] = evidence.records
        .slice()
        .sort((a, b) => a.chainIndex - b.chainIndex)
        .map((record) => {
          const leaf = leaves.get(record.evidenceId);
          return {
            evidenceId: record.evidenceId,
            chainIndex: record.chainIndex,
            eventName: record.eventName,
            record: record.record,
            recordDigest: record.recordDigest,
            previousEvidenceDigest: record.previousEvidenceDigest,
            ...(record.jws !== undefined ? { jws: record.jws } : {}),
            ...(record.recordedAt !== undefined ? { recordedAt: record.recordedAt } : {}),
            leafIndex: leaf?.leafIndex ?? null,
            inclusionProof: leaf?.inclusionProof ?? null,
          };
        });
      const leafIndexes = records.map((record) => record.leafIndex).filter((index): index is number => index !== null);
      const item: BundleCorrespondence = {
        correspondenceId,
        expected: {
          recordCount: records.length,
          lastChainIndex: records.length === 0 ? -1 : records[records.length - 1].chainIndex,
          lastLeafIndex: leafIndexes.length === 0 ? null : Math.max(...leafIndexes),
        },
        checkpoint: proof.checkpoint
          ? {
              note: proof.checkpoint.note,
              ...(proof.checkpoint.signedAt ? { signedAt: proof.checkpoint.signedAt } : {}),
              ...(proof.checkpoint.timeStampToken ? { timeStampToken: proof.checkpoint.timeStampToken } : {}),
            }
          : null,
        ...(proof.completeness ? { completeness: proof.completeness } : {}),
        records,
      };
      return {
        item,
        verifierKey: proof.verifierKey,
        ...(evidence.signingCertificate ? { signingCertificate: evidence.signingCertificate } : {}),
        certificates: evidence.certificates ?? {},
      };
    }
    await sleep(200);
  }
}

/**
 * Writes one self-contained bundle; returns it. The correspondences: those named, those of each `--party` (within
 * `since`/`until` by evidence time), and without a party, those submitted within `since`/`until` (both inclusive).
 * Listing progress goes to `note` (stderr), results to `log` (stdout).
 */
export async function exportBundle(
  client: AuditClient,
  options: ExportOptions,
  log: (line: string) => void,
  note: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<Bundle> {
  for (const id of [...options.correspondences, ...options.parties]) if (!UUID.test(id)) throw new UsageError(`"${id}" is not an id (a UUID)`);
  if (options.since && options.until && options.until.getTime() < options.since.getTime()) throw new UsageError('--until must not be before --since');
  const ids = new Set(options.correspondences);
  for (const partyId of options.parties) for (const id of await correspondencesOfParty(client, partyId, options.since, options.until)) ids.add(id);
  if (options.parties.length === 0 && (options.since || options.until))
    for (const id of await correspondencesInRange(client, options.since, options.until, note)) ids.add(id);
  if (ids.size === 0) throw new UsageError('nothing to export: name --correspondence <id>, or a --party or a --since/--until range with evidence in it');

  const verifierKey = (await client.text('/evidence-log/key', { auth: false })).trim();
  const caCertificatePem = await client.text('/ca/certificate', { auth: false });
  if (!caCertificatePem.includes('BEGIN CERTIFICATE')) throw new UsageError(`${client.base}/ca/certificate did not answer a PEM certificate`);

  const bar = progress('export', ids.size);
  const correspondences: BundleCorrespondence[] = [];
  const signingCertificatePems = new Set<string>();
  // Each operator certificate once, by x5t#S256: the records' quoted signatures name them instead of carrying x5c.
  const certificates: Record<string, string> = {};
  try {
    for (const id of ids) {
      const { item, verifierKey: servedKey, signingCertificate, certificates: named } = await exportOne(client, id, options.waitMs);
      Object.assign(certificates, named);
      // Only needed by records signed one by one (EVIDENCE_RECORD_SIGNATURES=jws): their JWS name it by x5t#S256.
      if (signingCertificate && item.records.some((record) => record.jws !== undefined)) signingCertificatePems.add(signingCertificate);
      if (servedKey.trim() !== verifierKey) throw new UsageError(`the proof of ${id} names verifier key ${servedKey}, not the published ${verifierKey}`);
      correspondences.push(item);
      bar.tick(`${id} (${item.records.length} records)`);
    }
  } finally {
    bar.stop();
  }

  // The TSA certificates the checkpoint time-stamps carry, for the record (verify checks the tokens against the CA).
  const tsaCertificatePems = new Set<string>();
  for (const item of correspondences) {
    if (!item.checkpoint?.timeStampToken) continue;
    try {
      const info = verifyTimeStampToken(Buffer.from(item.checkpoint.timeStampToken, 'base64'), {
        data: Buffer.from(item.checkpoint.note, 'utf8'),
        trustedCaPem: caCertificatePem,
      });
      if (info.signerCertificatePem) tsaCertificatePems.add(info.signerCertificatePem);
    } catch (error) {
      log(`warning: the time-stamp of the checkpoint of ${item.correspondenceId} does not verify: ${(error as Error).message}`);
    }
  }

  const bundle: Bundle = {
    format: BUNDLE_FORMAT,
    exportedAt: new Date().toISOString(),
    server: client.base,
    verifierKey,
    caCertificatePem,
    tsaCertificatePems: [...tsaCertificatePems],
    ...(signingCertificatePems.size > 0 ? { signingCertificatePems: [...signingCertificatePems] } : {}),
    ...(Object.keys(certificates).length > 0 ? { certificates } : {}),
    correspondences,
  };
  fs.writeFileSync(options.out, `${JSON.stringify(bundle, null, 2)}\n`);
  const records = correspondences.reduce((sum, item) => sum + item.records.length, 0);
  const uncovered = correspondences.flatMap((item) =>
    item.records.filter((record) => record.inclusionProof === null).map((record) => `${item.correspondenceId}#${record.chainIndex}`),
  );
  log(`exported ${correspondences.length} correspondence(s), ${records} record(s) to ${options.out}`);
  if (uncovered.length > 0) log(`warning: no checkpoint covered ${uncovered.join(', ')} yet (verify will say so); export again in a moment`);
  return bundle;
}
