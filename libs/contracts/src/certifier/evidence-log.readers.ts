import { eventReader, Hex64, int, readersOf, text, Time } from '../readers/shape';
import type { EvidenceLogEvent } from './chain.events';

/** Typed readers of the evidence log's checkpoints (`evidencelog-<originId>`, certifier), as docs/asyncapi.yaml describes them. */
export const EVIDENCE_LOG_READERS = readersOf<EvidenceLogEvent>({
  EvidenceCheckpointSigned: {
    origin: text(256),
    treeSize: int(0),
    rootHash: Hex64,
    note: text(16_384),
    verifierKey: text(512),
    signedAt: Time,
    timeStampToken: text(65_536),
  },
});

export const readEvidenceCheckpointSigned = EVIDENCE_LOG_READERS.EvidenceCheckpointSigned;
export const readEvidenceLogEvent = eventReader(EVIDENCE_LOG_READERS);
