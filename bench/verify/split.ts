/**
 * Where the offline verifier's time goes, measured by doing its steps again one kind at a time over the same bundle
 * with the same functions (scripts/audit/verify.ts): canonical JSON, SHA-256 (record digest and leaf hash), the
 * signed notes (checkpoint, completeness statement), the RFC 3161 tokens of the checkpoints, the inclusion proofs, the
 * operator signatures the records quote.
 */
import { hash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { verifyTimeStampToken } from '@sigillum/crypto/timestamp';
import { verifyProcessingSignatures } from '@sigillum/evidence';
import { InclusionVerifier, openNote, parseCheckpoint, parseVerifierKey } from '@sigillum/tlog';
import type { Bundle } from '../../scripts/audit/bundle';
import { canonicalJson } from '../../scripts/audit/jcs';

export interface Split {
  readonly canonicalJsonMs: number;
  readonly hashingMs: number;
  readonly noteSignaturesMs: number;
  readonly timeStampTokensMs: number;
  readonly inclusionProofsMs: number;
  readonly processingSignaturesMs: number;
  readonly notes: number;
  readonly tokens: number;
}

const timed = (run: () => void) => {
  const started = performance.now();
  run();
  return performance.now() - started;
};

export function splitOf(bundle: Bundle): Split {
  const verifier = parseVerifierKey(bundle.verifierKey.trim());
  const records = bundle.correspondences.flatMap((item) => item.records);
  const entries: string[] = [];
  const canonicalJsonMs = timed(() => {
    for (const record of records) entries.push(canonicalJson(record.record));
  });
  // As the verifier does: the record digest (hex) and the leaf hash, one-shot over the text.
  const leaves: Buffer[] = [];
  const hashingMs = timed(() => {
    for (const entry of entries) {
      hash('sha256', entry, 'hex');
      leaves.push(hash('sha256', `\u0000${entry}`, 'buffer'));
    }
  });
  // As the verifier does: each distinct checkpoint (note + time-stamp) once, each correspondence's completeness statement.
  const distinct = new Map<string, { note: string; timeStampToken?: string }>();
  for (const item of bundle.correspondences) {
    if (item.checkpoint) distinct.set(`${item.checkpoint.note}\u0000${item.checkpoint.timeStampToken ?? ''}`, item.checkpoint);
  }
  let notes = 0;
  const noteSignaturesMs = timed(() => {
    for (const checkpoint of distinct.values()) {
      parseCheckpoint(openNote(checkpoint.note, [verifier]).text);
      notes += 1;
    }
    for (const item of bundle.correspondences) {
      if (item.completeness) {
        openNote(item.completeness, [verifier]);
        notes += 1;
      }
    }
  });
  let tokens = 0;
  const timeStampTokensMs = timed(() => {
    for (const checkpoint of distinct.values()) {
      if (!checkpoint.timeStampToken) continue;
      verifyTimeStampToken(Buffer.from(checkpoint.timeStampToken, 'base64'), {
        data: Buffer.from(checkpoint.note, 'utf8'),
        trustedCaPem: bundle.caCertificatePem,
      });
      tokens += 1;
    }
  });
  const checkpoints = bundle.correspondences.map((item) => (item.checkpoint ? parseCheckpoint(openNote(item.checkpoint.note, [verifier]).text) : null));
  let index = 0;
  const inclusionProofsMs = timed(() => {
    // One verifier per checkpoint (by its note): proofs of neighbouring leaves share the nodes it has proven.
    const verifiers = new Map<string, InclusionVerifier>();
    bundle.correspondences.forEach((item, i) => {
      const checkpoint = checkpoints[i];
      let inclusion = item.checkpoint ? verifiers.get(item.checkpoint.note) : undefined;
      if (checkpoint && item.checkpoint && !inclusion) {
        inclusion = new InclusionVerifier(checkpoint.size, checkpoint.rootHash);
        verifiers.set(item.checkpoint.note, inclusion);
      }
      for (const record of item.records) {
        const leaf = leaves[index++];
        if (!inclusion || record.leafIndex === null || !record.inclusionProof) continue;
        inclusion.verifyEncoded(record.leafIndex, leaf, record.inclusionProof);
      }
    });
  });
  // The operator signatures the records quote (acknowledgements, returns), by the certificates of the bundle.
  const processingSignaturesMs = timed(() => {
    for (const item of bundle.correspondences) verifyProcessingSignatures(item.records, bundle.caCertificatePem, bundle.certificates ?? {});
  });
  return { canonicalJsonMs, hashingMs, noteSignaturesMs, timeStampTokensMs, inclusionProofsMs, processingSignaturesMs, notes, tokens };
}
