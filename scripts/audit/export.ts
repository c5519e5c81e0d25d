import * as fs from 'node:fs';
import { verifyTimeStampToken } from '@sigillum/crypto/timestamp';
import { BUNDLE_FORMAT, type Bundle, type BundleCorrespondence, type BundleRecord } from './bundle';
import { UsageError } from './errors';
import type { AuditClient } from './http';
import { progress } from './progress';

interface EvidenceAnswer {
  records: { evidenceId: string; chainIndex: number; eventName: string; record: Record<string, unknown>; recordDigest: string; previousEvidenceDigest: string | null; jws?: string; recordedAt?: string }[];
}

interface ProofAnswer {
  verifierKey: string;
  checkpoint: { note: string; signedAt?: string; timeStampToken?: string; treeSize: number } | null;
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
    const page = await client.json<{ items: { correspondenceId: string; eventTime: string | null }[]; total: number }>(`/audit/parties/${encodeURIComponent(partyId)}?limit=100&offset=${offset}`);
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

/** One correspondence: its records with JWS, joined to their leaves and proofs, waiting until a checkpoint covers all. */
async function exportOne(client: AuditClient, correspondenceId: string, waitMs: number): Promise<{ item: BundleCorrespondence; verifierKey: string }> {
  const id = encodeURIComponent(correspondenceId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const evidence = await client.json<EvidenceAnswer>(`/evidence/${id}`);
    const proof = await client.json<ProofAnswer>(`/evidence/${id}/proof`);
    const leaves = new Map(proof.records.map((leaf) => [leaf.evidenceId, leaf]));
    const covered = evidence.records.length > 0 && evidence.records.every((record) => leaves.get(record.evidenceId)?.inclusionProof != null) && proof.records.length === evidence.records.length;
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
        records,
      };
      return { item, verifierKey: proof.verifierKey };
    }
    await sleep(200);
  }
}

/** Writes one self-contained bundle; returns it. */
export async function exportBundle(client: AuditClient, options: ExportOptions, log: (line: string) => void): Promise<Bundle> {
  for (const id of [...options.correspondences, ...options.parties]) if (!UUID.test(id)) throw new UsageError(`"${id}" is not an id (a UUID)`);
  const ids = new Set(options.correspondences);
  for (const partyId of options.parties) for (const id of await correspondencesOfParty(client, partyId, options.since, options.until)) ids.add(id);
  if (ids.size === 0) throw new UsageError('nothing to export: name --correspondence <id> (or a --party with evidence in the time range)');

  const verifierKey = (await client.text('/evidence-log/key', { auth: false })).trim();
  const caCertificatePem = await client.text('/ca/certificate', { auth: false });
  if (!caCertificatePem.includes('BEGIN CERTIFICATE')) throw new UsageError(`${client.base}/ca/certificate did not answer a PEM certificate`);

  const bar = progress('export', ids.size);
  const correspondences: BundleCorrespondence[] = [];
  try {
    for (const id of ids) {
      const { item, verifierKey: servedKey } = await exportOne(client, id, options.waitMs);
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
      const info = verifyTimeStampToken(Buffer.from(item.checkpoint.timeStampToken, 'base64'), { data: Buffer.from(item.checkpoint.note, 'utf8'), trustedCaPem: caCertificatePem });
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
    correspondences,
  };
  fs.writeFileSync(options.out, `${JSON.stringify(bundle, null, 2)}\n`);
  const records = correspondences.reduce((sum, item) => sum + item.records.length, 0);
  const uncovered = correspondences.flatMap((item) => item.records.filter((record) => record.inclusionProof === null).map((record) => `${item.correspondenceId}#${record.chainIndex}`));
  log(`exported ${correspondences.length} correspondence(s), ${records} record(s) to ${options.out}`);
  if (uncovered.length > 0) log(`warning: no checkpoint covered ${uncovered.join(', ')} yet (verify will say so); export again in a moment`);
  return bundle;
}
