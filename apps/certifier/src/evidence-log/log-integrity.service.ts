import { Inject, Injectable } from '@nestjs/common';
import { EVIDENCE_CATEGORY, type EvidenceCheckpointSigned, type EvidenceRecorded, streamCategory } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { type ComponentHealth, HealthChecks } from '@sigillum/runtime/health-checks';
import { EvidenceLog } from './evidence-log';
import { checkLogIntegrityDetailed, type LogIntegrityReport, type RecordedCheckpoint, type StoredEvidence } from './log-integrity';

const READ_BATCH = 2_000;
/** How long the health check reuses a report (the check reads every event of the store). */
const HEALTH_REPORT_TTL_MS = 15_000;

/**
 * Runs the integrity check of the evidence log against the store (log-integrity.ts) for GET /evidence-log/integrity,
 * and contributes `evidence-log` to GET /health: down, "signing stopped: <first problem>", when the store no longer
 * gives what the log signed (the log then signs no further checkpoint).
 */
@Injectable()
export class EvidenceLogIntegrity {
  private cached: { report: LogIntegrityReport; signingStopped: boolean; at: number } | undefined;
  private running: Promise<{ report: LogIntegrityReport; signingStopped: boolean; at: number }> | undefined;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly evidenceLog: EvidenceLog,
    healthChecks: HealthChecks,
  ) {
    healthChecks.register('evidence-log', () => this.health());
  }

  /** A fresh check (concurrent callers share one run). */
  async check(): Promise<LogIntegrityReport> {
    return (await this.fresh()).report;
  }

  async health(): Promise<ComponentHealth> {
    const { report, signingStopped } = this.cached && Date.now() - this.cached.at < HEALTH_REPORT_TTL_MS ? this.cached : await this.fresh();
    const last = report.lastCheckpoint;
    if (report.status === 'consistent') {
      return {
        up: true,
        detail: `signing: ${report.checkedLeaves} evidence records, last checkpoint ${last ? `of size ${last.size}` : 'none yet'}`,
        checkedLeaves: report.checkedLeaves,
      };
    }
    const state = signingStopped ? 'signing stopped' : 'inconsistent (still signing)';
    return { up: false, detail: `${state}: ${report.problems[0].message}`, problems: report.problems.length, checkedLeaves: report.checkedLeaves };
  }

  private fresh(): Promise<{ report: LogIntegrityReport; signingStopped: boolean; at: number }> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<{ report: LogIntegrityReport; signingStopped: boolean; at: number }> {
    // Checkpoints first: the evidence read after them holds at least every leaf they cover.
    const checkpoints: RecordedCheckpoint[] = (await this.store.readStream(this.evidenceLog.streamId))
      .filter((recorded) => recorded.event.type === 'EvidenceCheckpointSigned')
      .map((recorded) => {
        const data = (recorded.event as EvidenceCheckpointSigned).data;
        return { treeSize: data.treeSize, rootHash: data.rootHash, note: data.note, signedAt: data.signedAt };
      });
    const evidence: StoredEvidence[] = [];
    let after: bigint | undefined;
    for (;;) {
      const batch = await this.store.readAll({ after, maxCount: READ_BATCH });
      for (const recorded of batch) {
        after = recorded.globalPosition;
        if (streamCategory(recorded.streamId) !== EVIDENCE_CATEGORY || recorded.event.type !== 'EvidenceRecorded') continue;
        const data = (recorded.event as EvidenceRecorded).data;
        evidence.push({
          evidenceId: data.evidenceId,
          correspondenceId: data.correspondenceId,
          chainIndex: data.chainIndex,
          eventName: data.eventName,
          record: data.record,
          recordDigest: data.recordDigest,
          previousEvidenceDigest: data.previousEvidenceDigest,
          ...(typeof data.jws === 'string' && data.jws !== '' ? { jws: data.jws } : {}),
        });
      }
      if (batch.length < READ_BATCH) break;
    }
    const checked = {
      ...checkLogIntegrityDetailed({ verifierKey: this.evidenceLog.verifierKey, origin: this.evidenceLog.origin, checkpoints, evidence }),
      at: Date.now(),
    };
    this.cached = checked;
    return checked;
  }
}
