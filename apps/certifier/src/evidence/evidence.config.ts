/** The evidence settings, read from the environment once at start. */
export interface EvidenceConfig {
  /** `EvidenceIssuerPolicyID` of every record: the URI or OID of the evidence policy (CPS) the certifier follows. */
  readonly policyId: string;
  /**
   * Whether each record is also signed on its own (`jws`, certificate by `x5t#S256`), for relying parties that demand
   * a signature per record. Default `none`: a record is proven by its inclusion proof to a signed checkpoint of the
   * evidence log, which spares ~11 signatures and their certificates per delivery.
   */
  readonly recordSignatures: RecordSignatures;
  /**
   * Correspondences whose evidence state (the fold of `evidence-<id>`) and source events (correspondence and chain)
   * stay in memory, the most recently used: enough for the correspondences in flight; one evicted is read from the
   * store again at its next fact. Absent: DEFAULT_CACHED_CORRESPONDENCES.
   */
  readonly cachedCorrespondences?: number;
}

/**
 * ~11 kB a correspondence (its source events, ~0.6 kB its evidence state): ~12 MB at most. The correspondences in
 * flight are a few hundred even at 1,000 deliveries/s (p99 250 ms); a chain's facts come within seconds.
 */
export const DEFAULT_CACHED_CORRESPONDENCES = 1_000;

export const RECORD_SIGNATURES = ['none', 'jws'] as const;
export type RecordSignatures = (typeof RECORD_SIGNATURES)[number];

export const EVIDENCE_CONFIG = Symbol('EvidenceConfig');

export const EVIDENCE_ENVIRONMENT = {
  EVIDENCE_POLICY_ID: {
    default: 'urn:sigillum:policy:evidence:1',
    help: 'EvidenceIssuerPolicyID written in every evidence record: the URI (or urn:oid:…) of your evidence policy',
  },
  EVIDENCE_RECORD_SIGNATURES: {
    default: 'none',
    help: 'none (default): records are proven by the evidence log (inclusion proof to a signed checkpoint); jws: each record is also signed (EdDSA JWS, certificate by x5t#S256)',
  },
  EVIDENCE_CACHED_CORRESPONDENCES: {
    default: String(DEFAULT_CACHED_CORRESPONDENCES),
    help: 'correspondences whose evidence state and source events the certifier keeps in memory, most recently used (16 to 1000000; ~11 kB each): above the correspondences in flight',
  },
} as const;

export class EvidenceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvidenceConfigError';
  }
}

export function loadEvidenceConfig(env: Readonly<Record<string, string | undefined>>): EvidenceConfig {
  const raw = env.EVIDENCE_POLICY_ID?.trim();
  const policyId = raw === undefined || raw === '' ? EVIDENCE_ENVIRONMENT.EVIDENCE_POLICY_ID.default : raw;
  // A URI (scheme:rest), e.g. urn:oid:1.2.3 or https://example.org/cps, without spaces: it is written into signed evidence.
  if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(policyId) || policyId.length > 512) {
    throw new EvidenceConfigError(
      `EVIDENCE_POLICY_ID="${policyId}" must be a URI without spaces (e.g. urn:oid:1.3.6.1.4.1.99999.1 or https://example.org/cps)`,
    );
  }
  const signatures = env.EVIDENCE_RECORD_SIGNATURES?.trim() || EVIDENCE_ENVIRONMENT.EVIDENCE_RECORD_SIGNATURES.default;
  if (!(RECORD_SIGNATURES as readonly string[]).includes(signatures)) {
    throw new EvidenceConfigError(
      `EVIDENCE_RECORD_SIGNATURES="${signatures}" must be one of ${RECORD_SIGNATURES.join(', ')} (none: proven by the evidence log; jws: each record signed too)`,
    );
  }
  const cachedRaw = env.EVIDENCE_CACHED_CORRESPONDENCES?.trim() || EVIDENCE_ENVIRONMENT.EVIDENCE_CACHED_CORRESPONDENCES.default;
  const cachedCorrespondences = /^\d+$/.test(cachedRaw) ? Number(cachedRaw) : NaN;
  if (!(cachedCorrespondences >= 16 && cachedCorrespondences <= 1_000_000)) {
    throw new EvidenceConfigError(
      `EVIDENCE_CACHED_CORRESPONDENCES="${cachedRaw}" must be a whole number from 16 to 1000000 (correspondences kept in memory; ~11 kB each)`,
    );
  }
  return { policyId, recordSignatures: signatures as RecordSignatures, cachedCorrespondences };
}
