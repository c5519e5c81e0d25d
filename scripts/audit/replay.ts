import type { AuditClient } from './http';

export const DEFAULT_PROJECTIONS = ['mailbox', 'audit'] as const;

interface DigestAt {
  readonly digest: string;
  readonly rows: Record<string, number>;
  readonly position: string | null;
}

export interface ReplayAnswer {
  readonly projection: string;
  readonly live: DigestAt;
  readonly replayed: DigestAt;
  readonly equal: boolean;
}

const rowsText = (rows: Record<string, number>) =>
  Object.entries(rows)
    .map(([table, count]) => `${table}=${count}`)
    .join(', ');

/**
 * Asks the server to rebuild each read model from position 0 of the log into a scratch database
 * (POST /projections/:name/replay) and compares the digests with the live ones, at the same log position.
 */
export async function replayProjections(
  client: AuditClient,
  projections: readonly string[],
  out: (line: string) => void,
): Promise<{ valid: boolean; differing: string[] }> {
  const differing: string[] = [];
  for (const name of projections) {
    const answer = await client.postJson<ReplayAnswer>(`/projections/${encodeURIComponent(name)}/replay`);
    out(`Projection ${answer.projection} at position ${String(answer.live.position)}:`);
    out(`  live      ${answer.live.digest}  (${rowsText(answer.live.rows)})`);
    out(`  replayed  ${answer.replayed.digest}  (${rowsText(answer.replayed.rows)})`);
    out(`  ${answer.equal ? 'equal' : 'DIFFERENT: the live read model is not what the log gives'}`);
    if (!answer.equal) differing.push(answer.projection);
  }
  if (differing.length === 0) out(`VALID: ${projections.length} projection(s) replayed from position 0 give the live digests`);
  else out(`INVALID: ${differing.join(', ')} replayed from position 0 differ(s) from the live read model`);
  return { valid: differing.length === 0, differing };
}
