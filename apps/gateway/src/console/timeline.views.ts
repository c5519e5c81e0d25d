import { html, query } from './html';
import { type Frame, page, type Read } from './console.views';

/** Chains list, a correspondence's timeline, dead letters. Escaped by `html`; links join the pages. */

export interface ChainItem {
  correspondenceId: string;
  senderId: string | null;
  kind: string | null;
  submittedAt: string | null;
  state: string;
  stuck: boolean;
  missedDeadlines: number;
}

export interface ChainFilters {
  state?: string;
  party?: string;
  operator?: string;
  since?: string;
  until?: string;
}

const STATES = ['all', 'in-flight', 'stuck', 'failed', 'completed'];

export function chainsPage(frame: Frame, filters: ChainFilters, list: Read<{ items: ChainItem[]; next: string | null }>): string {
  return page(
    frame,
    html`<h1>Chains</h1>
<form method="get" action="/console/chains">
<label>state <select name="state">${STATES.map((s) => html`<option value="${s}" ${s === (filters.state ?? 'all') ? 'selected' : ''}>${s}</option>`)}</select></label>
<label>party <input name="party" value="${filters.party ?? ''}" size="38" placeholder="sender or recipient id"></label>
<label>operator <input name="operator" value="${filters.operator ?? ''}" size="38" placeholder="operator id"></label>
<label>since <input name="since" value="${filters.since ?? ''}" placeholder="2026-12-01T00:00:00Z"></label>
<label>until <input name="until" value="${filters.until ?? ''}" placeholder="2026-12-02T00:00:00Z"></label>
<button>Filter</button></form>
${
  list.ok
    ? html`<table data-testid="chains"><tr><th>correspondence</th><th>submitted</th><th>kind</th><th>sender</th><th>state</th><th>deadlines missed</th></tr>
${list.value.items.map(
  (c) => html`<tr class="${c.stuck ? 'stuck' : ''}"><td><a href="/console/correspondences/${c.correspondenceId}"><code>${c.correspondenceId}</code></a></td>
<td>${c.submittedAt ?? ''}</td><td>${c.kind ?? ''}</td><td><code>${c.senderId ?? ''}</code></td><td>${c.stuck ? html`<b class="bad">stuck</b>` : c.state}</td><td>${c.missedDeadlines}</td></tr>`,
)}</table>
${list.value.items.length === 0 ? html`<p class="muted">No chain matches.</p>` : ''}
${list.value.next ? html`<a href="/console/chains${query({ ...filters, after: list.value.next })}">next page →</a>` : ''}`
    : html`<div class="error">${list.why}</div>`
}`,
  );
}

export interface HistoryEntry {
  at: string;
  source: string;
  type: string;
  eventId: string;
  details: Record<string, unknown>;
}
export interface EvidenceEntry {
  chainIndex: number;
  evidenceId: string;
  eventName: string;
  eventTime: string | null;
  recordDigest: string;
  previousEvidenceDigest: string | null;
  recordedAt: string;
}
export interface TimelineView {
  correspondenceId: string;
  senderId: string | null;
  kind: string | null;
  status: string;
  submittedAt: string | null;
  recipients: { recipientId: string; status: string; acceptBy: string | null }[];
  history: HistoryEntry[];
  evidence: EvidenceEntry[];
}
export interface TokenView {
  tokenId: string;
  attempt: number;
  operatorId: string;
  issuedAt: string;
  acknowledgeBy: string;
  returnBy: string;
  acknowledgedAt: string | null;
  returnedAt: string | null;
  certifiedAt: string | null;
  status: string;
  missing: string | null;
  reasons: { rule: string; message: string }[];
}
export interface RetryView {
  stepIndex: number;
  attempt: number;
  requestedBy: string;
  reason: string;
  retriedAt: string;
}
export interface ChainView {
  status: string;
  reasons?: { rule: string; message: string }[];
  retries?: RetryView[];
  steps?: { stepIndex: number; step: string; plannedOperatorId: string; status: string; tokens: TokenView[] }[];
}
export interface Verification {
  valid?: boolean;
  problems?: unknown[];
  records?: { chainIndex?: number; valid?: boolean; problems?: unknown[] }[];
}

const PARTY_KEYS = new Set(['senderId', 'recipientId', 'operatorId']);

/** A history entry's details: ids become links to the chains of that party or operator; the rest is shown as text. */
function detailsOf(details: Record<string, unknown>) {
  return Object.entries(details).map(([name, value]) => {
    if (name === 'tokenId' && typeof value === 'string') return html`<div>${name}: <a href="#token-${value}"><code>${value}</code></a></div>`;
    if (PARTY_KEYS.has(name) && typeof value === 'string') {
      const filter = name === 'operatorId' ? { operator: value } : { party: value };
      return html`<div>${name}: <a href="/console/chains${query(filter)}"><code>${value}</code></a></div>`;
    }
    return html`<div>${name}: <code>${typeof value === 'string' ? value : JSON.stringify(value)}</code></div>`;
  });
}

/** A record's verdict from GET /evidence/:id/verification (auditors), or why there is none. */
function verifiedOf(verification: Read<Verification>, chainIndex: number) {
  if (!verification.ok) return html`<span class="muted">auditor only</span>`;
  const record = (verification.value.records ?? []).find((r) => r.chainIndex === chainIndex);
  if (!record) return html`<span class="muted">not yet verified</span>`;
  return record.valid ? html`<span class="ok">valid</span>` : html`<span class="bad">INVALID</span> <code>${JSON.stringify(record.problems ?? [])}</code>`;
}

/** Who may retry a failed chain (the API decides again): the operator's ops and admin staff, not auditors. */
const mayRetry = (frame: Frame) => frame.principal?.kind === 'staff' && frame.principal.roles.some((role) => role === 'ops' || role === 'admin');

/**
 * The chain's manual retries (each anchored `#retry-<attempt>`: the retry form redirects there), and for a failed
 * chain the form that retries it (ops, admin): a reason and the session's CSRF token.
 */
function retriesOf(frame: Frame, id: string, chain: ChainView) {
  return html`${(chain.retries ?? []).map(
    (r) =>
      html`<div class="notice" id="retry-${r.attempt}" data-testid="chain-retry">Retried by <code>${r.requestedBy}</code> at ${r.retriedAt}: step ${r.stepIndex}, attempt ${r.attempt}. ${r.reason}</div>`,
  )}
${
  chain.status === 'failed' && mayRetry(frame)
    ? html`<form method="post" action="/console/chains/${id}/retry" data-testid="retry-chain-form"><input type="hidden" name="csrf" value="${frame.csrf ?? ''}">
<label>Reason <input name="reason" required maxlength="500" size="60" placeholder="e.g. the operator is back after incident 2026-031"></label>
<button data-testid="retry-chain">Retry chain</button> <span class="muted">from the failed step, if the retry policy allows it</span></form>`
    : ''
}`;
}

/** The API refused the retry (409: the retry policy; 400, 404): every reason, and the way back to the correspondence. */
export function retryRefusedPage(frame: Frame, id: string, status: number, reasons: readonly { rule: string; message: string }[]): string {
  return page(
    frame,
    html`<h1>${status === 409 ? 'Retry refused' : `Retry failed (${status})`}</h1>
<div class="error" role="alert" data-testid="retry-refused">${reasons.map((r) => html`<div><code>${r.rule}</code> ${r.message}</div>`)}</div>
<p><a href="/console/correspondences/${id}">Back to correspondence <code>${id}</code></a></p>`,
  );
}

export function timelinePage(
  frame: Frame,
  id: string,
  data: { timeline: Read<TimelineView>; chain: Read<ChainView>; subject: Read<string | null>; verification: Read<Verification> },
): string {
  const { timeline, chain, subject, verification } = data;
  const t = timeline.ok ? timeline.value : undefined;
  return page(
    frame,
    html`<h1>Correspondence <code>${id}</code></h1>
<table><tr><th>subject</th><td data-testid="subject">${subject.ok ? (subject.value ?? '') : html`<span class="muted">not shown: ${subject.why}</span>`}</td></tr>
${
  t
    ? html`<tr><th>status</th><td data-testid="status">${t.status}</td></tr><tr><th>kind</th><td>${t.kind ?? ''}</td></tr>
<tr><th>sender</th><td><a href="/console/chains${query({ party: t.senderId ?? undefined })}"><code>${t.senderId ?? ''}</code></a></td></tr>
<tr><th>recipients</th><td>${t.recipients.map((r) => html`<div><a href="/console/chains${query({ party: r.recipientId })}"><code>${r.recipientId}</code></a> ${r.status}${r.acceptBy ? html` (accept by ${r.acceptBy})` : ''}</div>`)}</td></tr>`
    : html`<tr><th>history</th><td class="muted">${timeline.ok ? '' : timeline.why}</td></tr>`
}
<tr><th>evidence verification</th><td data-testid="verification">${
      verification.ok
        ? html`<b class="${verification.value.valid ? 'ok' : 'bad'}">${verification.value.valid ? 'valid' : 'INVALID'}</b> (chain and evidence log)
${(verification.value.problems ?? []).map((p) => html`<div class="bad"><code>${JSON.stringify(p)}</code></div>`)}`
        : html`<span class="muted">${verification.why}</span>`
    }</td></tr></table>
<h2>Chain: certification tokens, operators, deadlines</h2>
${
  chain.ok
    ? html`<p>Chain <b data-testid="chain-status">${chain.value.status}</b> ${(chain.value.reasons ?? []).map((r) => html`<code>${r.rule}</code> ${r.message} `)}</p>
${retriesOf(frame, id, chain.value)}
<table><tr><th>step</th><th>attempt</th><th>operator</th><th>issued</th><th>acknowledge by</th><th>return by</th><th>acknowledged</th><th>returned</th><th>certified</th><th>status</th></tr>
${(chain.value.steps ?? []).flatMap((s) =>
  s.tokens.length === 0
    ? [
        html`<tr><td>${s.stepIndex}. ${s.step}</td><td></td><td><a href="/console/chains${query({ operator: s.plannedOperatorId })}"><code>${s.plannedOperatorId}</code></a></td><td colspan="6"></td><td>${s.status}</td></tr>`,
      ]
    : s.tokens.map(
        (k) => html`<tr id="token-${k.tokenId}" class="${k.missing ? 'stuck' : ''}"><td>${s.stepIndex}. ${s.step}</td><td>${k.attempt}</td>
<td><a href="/console/chains${query({ operator: k.operatorId })}"><code>${k.operatorId}</code></a></td><td>${k.issuedAt}</td><td>${k.acknowledgeBy}</td><td>${k.returnBy}</td>
<td>${k.acknowledgedAt ?? ''}</td><td>${k.returnedAt ?? ''}</td><td>${k.certifiedAt ?? ''}</td>
<td>${k.status}${k.missing ? html` <b class="bad">${k.missing} missing</b>` : ''}${k.reasons.map((r) => html`<br><code>${r.rule}</code> ${r.message}`)}</td></tr>`,
      ),
)}</table>`
    : html`<p class="muted">${chain.why}</p>`
}
<h2>Timeline: every event of the correspondence and its chain, in order</h2>
${
  t
    ? html`<table data-testid="timeline"><tr><th>at</th><th>stream</th><th>event</th><th>details</th></tr>
${t.history.map((h) => html`<tr class="${h.type === 'StepDeadlineMissed' || h.type === 'ChainFailed' ? 'stuck' : ''}"><td>${h.at}</td><td>${h.source}</td><td>${h.type}</td><td>${detailsOf(h.details)}</td></tr>`)}</table>
<h2>Evidence</h2>
<table data-testid="evidence"><tr><th>#</th><th>event</th><th>time</th><th>record digest</th><th>previous</th><th>verified</th></tr>
${t.evidence.map(
  (
    e,
  ) => html`<tr id="evidence-${e.recordDigest}"><td>${e.chainIndex}</td><td>${e.eventName}</td><td>${e.eventTime ?? e.recordedAt}</td><td><code>${e.recordDigest}</code></td>
<td>${e.previousEvidenceDigest ? html`<a href="#evidence-${e.previousEvidenceDigest}"><code>${e.previousEvidenceDigest}</code></a>` : '—'}</td>
<td>${verifiedOf(verification, e.chainIndex)}</td></tr>`,
)}</table>`
    : ''
}`,
  );
}

export interface DeadLetter {
  offset: number;
  topic: string;
  group: string;
  key: string;
  type: string;
  messageId: string;
  time: string;
  headers: Record<string, string>;
  state?: { status: string; replays: number; lastReplayAt: string | null; lastBy: string | null; discardReason: string | null };
  progress?: { replayOffset: number; groupCheckpoint: number | null; passed: boolean } | null;
}

function stateOf(d: DeadLetter) {
  const state = d.state;
  if (!state || state.status === 'open') return html`<span class="bad">open</span>`;
  if (state.status === 'discarded') return html`discarded by ${state.lastBy ?? ''}: ${state.discardReason ?? ''}`;
  return html`replayed ${state.replays}× (last ${state.lastReplayAt ?? ''} by ${state.lastBy ?? ''})`;
}

export function deadLettersPage(frame: Frame, topic: string | undefined, list: Read<{ items: DeadLetter[]; next: number | null }>): string {
  return page(
    frame,
    html`<h1>Dead letters${topic ? html` of <code>${topic}</code>` : ''}</h1>
${
  list.ok
    ? html`<table data-testid="dead-letters"><tr><th>offset</th><th>topic</th><th>group</th><th>event</th><th>key</th><th>reason</th><th>state</th></tr>
${list.value.items.map(
  (
    d,
  ) => html`<tr><td><a href="/console/dead-letters/${d.offset}">${d.offset}</a></td><td>${d.topic}</td><td>${d.group}</td><td>${d.type}</td><td><code>${d.key}</code></td>
<td>${d.headers['dlq_reason'] ?? ''}</td><td>${stateOf(d)}</td></tr>`,
)}</table>
${list.value.items.length === 0 ? html`<p class="muted">No dead letter.</p>` : ''}
${list.value.next !== null ? html`<a href="/console/dead-letters${query({ topic, after: String(list.value.next) })}">next page →</a>` : ''}`
    : html`<div class="error">${list.why}</div>`
}`,
  );
}

export function deadLetterPage(frame: Frame, letter: Read<DeadLetter>, canAct: boolean): string {
  return page(
    frame,
    letter.ok
      ? html`<h1>Dead letter ${letter.value.offset}</h1>
<table><tr><th>topic</th><td>${letter.value.topic}</td></tr><tr><th>group</th><td>${letter.value.group}</td></tr>
<tr><th>event</th><td>${letter.value.type} <code>${letter.value.messageId}</code></td></tr><tr><th>key</th><td><code>${letter.value.key}</code></td></tr>
<tr><th>time</th><td>${letter.value.time}</td></tr></table>
<h2>Headers</h2><table>${Object.entries(letter.value.headers).map(([name, value]) => html`<tr><th>${name}</th><td><code>${value}</code></td></tr>`)}</table>
<p class="muted">The body is not shown: it may hold a letter's subject.</p>
<h2>State</h2><p data-testid="dead-letter-state">${stateOf(letter.value)}</p>
${
  letter.value.progress
    ? html`<p data-testid="replay-progress">Replayed copy at offset ${letter.value.progress.replayOffset} of ${letter.value.topic.replace(/\.dlq$/, '')}: group ${letter.value.group}
${letter.value.progress.passed ? html`<b class="ok">has gone past it</b> (checkpoint ${letter.value.progress.groupCheckpoint ?? ''}): handled, unless its log says it failed again` : html`<b>not yet past it</b> (checkpoint ${letter.value.progress.groupCheckpoint ?? 'none'})`}</p>`
    : ''
}
${
  canAct && letter.value.state?.status !== 'discarded'
    ? html`<form method="post" action="/console/dead-letters/${letter.value.offset}/replay"><input type="hidden" name="csrf" value="${frame.csrf ?? ''}"><button data-testid="replay">Replay after a fix</button></form>
<form method="post" action="/console/dead-letters/${letter.value.offset}/discard"><input type="hidden" name="csrf" value="${frame.csrf ?? ''}">
<label>Reason <input name="reason" required maxlength="300" size="50"></label> <button data-testid="discard">Discard</button></form>`
    : ''
}`
      : html`<div class="error">${letter.why}</div>`,
  );
}
