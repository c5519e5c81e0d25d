import type { Principal } from '@sigillum/auth';
import { Html, html, query } from './html';

/** Page frames, sign-in, overview and lists. All text goes through `html` (escaped); no script runs in any page. */

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { background: #1d2330; color: #fff; padding: 8px 16px; display: flex; gap: 16px; align-items: center; }
  header a { color: #cfe0ff; text-decoration: none; } header a:hover { text-decoration: underline; }
  header .who { margin-left: auto; font-size: 12px; }
  header form { display: inline; } header button { font-size: 12px; }
  main { padding: 16px; max-width: 1200px; }
  h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 18px 0 6px; }
  table { border-collapse: collapse; background: #fff; margin-bottom: 8px; width: 100%; }
  th, td { border: 1px solid #d8dbe2; padding: 4px 8px; text-align: left; vertical-align: top; font-size: 13px; }
  th { background: #eef0f4; }
  .cards { display: flex; gap: 12px; flex-wrap: wrap; }
  .card { background: #fff; border: 1px solid #d8dbe2; border-radius: 6px; padding: 10px 14px; min-width: 140px; }
  .card b { display: block; font-size: 26px; }
  .bad { color: #b3261e; } .ok { color: #1b7f3b; } .muted { color: #6b7280; }
  .stuck { background: #fff4e5; }
  code { font-size: 12px; word-break: break-all; }
  form.inline { display: inline; }
  .error { background: #fde8e8; border: 1px solid #f5b5b5; padding: 8px; margin-bottom: 12px; }
  .notice { background: #e8f1fd; border: 1px solid #b5cdf5; padding: 8px; margin-bottom: 12px; }
  progress { width: 220px; vertical-align: middle; }
`;

export interface Frame {
  readonly title: string;
  readonly principal?: Principal;
  readonly csrf?: string;
  /** Seconds between automatic reloads (a meta refresh: the overview stays live without any script). */
  readonly refresh?: number;
}

export function page(frame: Frame, body: Html): string {
  const staff = frame.principal?.kind === 'staff' ? frame.principal : undefined;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${frame.title} · Sigillum console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${frame.refresh ? html`<meta http-equiv="refresh" content="${frame.refresh}">` : ''}
<style>${new Html(STYLE)}</style></head>
<body><header><strong>Sigillum console</strong>
${
  staff
    ? html`<a href="/console">Overview</a><a href="/console/chains">Chains</a><a href="/console/dead-letters">Dead letters</a>
<form class="inline" method="get" action="/console/search"><input name="q" placeholder="correspondence or party id" size="38" aria-label="search"> <button>Search</button></form>
<span class="who" data-testid="who">${staff.subject} (${staff.roles.join(', ')})
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${frame.csrf ?? ''}"><button>Sign out</button></form></span>`
    : ''
}
</header><main>${body}</main></body></html>`.value;
}

export function loginPage(error?: string): string {
  return page(
    { title: 'Sign in' },
    html`<h1>Sign in</h1>
${error ? html`<div class="error" role="alert">${error}</div>` : ''}
<p>Staff only (roles <code>ops</code>, <code>auditor</code>, <code>admin</code>): paste your staff credential or your OIDC access token.
It stays on the server; your browser keeps only an HttpOnly session cookie.</p>
<form method="post" action="/console/login">
<label>Staff token <input type="password" name="token" autocomplete="off" size="60" required></label>
<button type="submit">Sign in</button></form>`,
  );
}

export function errorPage(frame: Frame, status: number, rule: string, message: string): string {
  return page(frame, html`<h1>${status === 403 ? 'Not allowed' : `Error ${status}`}</h1><div class="error" role="alert"><code>${rule}</code> ${message}</div>`);
}

/** A card, or the reason the number could not be read (a role down, or not allowed to this staff member). */
export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string };

const unavailable = (why: string) => html`<span class="muted">unavailable: ${why}</span>`;

export interface Summary {
  inFlight: number;
  stuck: number;
  failed: number;
  completed: number;
  deliveriesPerMinute: { minute: string; count: number }[];
  recentFailures: { correspondenceId: string; failedAt: string; step: string | null; reasons: { rule: string; message: string }[] }[];
}
export interface Health {
  status: string;
  roles: string[];
  components: Record<string, { up: boolean; detail?: string }>;
}
export interface BusView {
  bus: string;
  /** group: null on Kafka (each record's dlq_group header names it). */
  deadLetters: { topic: string; group: string | null; count: number }[];
  lag: {
    group: string;
    topic: string;
    checkpoint: number;
    head: number;
    behind: number;
    partitions?: { partition: number; committed: number | null; end: number; lag: number }[];
  }[];
  /** Kafka: why the brokers could not be read. */
  unreachable?: string;
}
export interface RemoteRoles {
  status: string;
  roles: Record<string, { up: boolean; detail?: string; urls: { url: string; up: boolean; detail?: string }[] }>;
}
export interface Expiring {
  days: number;
  certificates: { certificateId: string; partyId: string; subject: string; notAfter: string; daysLeft: number }[];
}
export interface RebuildProgress {
  projection: string;
  startedAt: string;
  headPosition: string | null;
  position: string | null;
  percent: number | null;
  eventsScanned: number;
  eventsRead: number;
  applied: number;
  poison: number;
  eventsPerSecond: number;
  etaSeconds: number | null;
}
export interface RebuildReport {
  eventsRead: number;
  applied: number;
  poison: number;
  lastPosition: string | null;
  digest: string;
  rows: Record<string, number>;
  startedAt: string;
  finishedAt: string;
}
export interface RebuildStatus {
  projection: string;
  state: 'idle' | 'rebuilding';
  progress: RebuildProgress | null;
  last: RebuildReport | null;
  lastFailure: { startedAt: string; failedAt: string; error: string } | null;
}
export interface Projections {
  projections: { name: string; version: number; rebuilding: boolean; digest: string; progress?: RebuildProgress | null }[];
}

const seconds = (s: number) => (s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 360) / 10} h`);

/** A rebuild's bar (no script: an HTML <progress>, redrawn by the page's reload) with position/head, pace and time left. */
export function progressBar(p: RebuildProgress): Html {
  const eta = p.etaSeconds === null ? 'time left unknown' : p.etaSeconds === 0 ? 'reaching the head' : `about ${seconds(p.etaSeconds)} left`;
  return html`<progress data-testid="rebuild-progress" max="100"${p.percent === null ? '' : html` value="${p.percent}"`}>${p.percent ?? ''} %</progress>
<span data-testid="rebuild-figures">${p.percent === null ? '' : `${p.percent} % · `}position ${p.position ?? '—'} of head ${p.headPosition ?? '—'} · ${p.eventsPerSecond} events/s · ${eta}</span>`;
}

const busUnreachable = (why: string) =>
  html`<table><tr><td class="bad" data-testid="bus-unreachable">bus unreachable: ${why}, check KAFKA_BROKERS</td></tr></table>`;

export function overviewPage(
  frame: Frame,
  data: {
    summary: Read<Summary>;
    health: Read<Health>;
    bus: Read<BusView>;
    projections: Read<Projections>;
    expiring: Read<Expiring>;
    remote?: RemoteRoles;
    canRebuild: boolean;
    notice?: string;
  },
): string {
  const { summary, health, bus, projections, expiring } = data;
  const perMinute = summary.ok ? summary.value.deliveriesPerMinute : [];
  const lastMinute = perMinute.length > 0 ? perMinute[perMinute.length - 1].count : 0;
  return page(
    frame,
    html`<h1>Overview</h1>
${data.notice ? html`<div class="notice" role="status">${data.notice}</div>` : ''}
${
  summary.ok
    ? html`<div class="cards">
<div class="card">deliveries this minute<b data-testid="deliveries-per-minute">${lastMinute}</b><span class="muted">${perMinute.map((b) => b.count).join(' · ')} (last 10 min)</span></div>
<div class="card"><a href="/console/chains?state=in-flight">chains in flight</a><b data-testid="in-flight">${summary.value.inFlight}</b></div>
<div class="card"><a href="/console/chains?state=stuck">stuck (deadline missed)</a><b data-testid="stuck" class="${summary.value.stuck > 0 ? 'bad' : ''}">${summary.value.stuck}</b></div>
<div class="card"><a href="/console/chains?state=failed">failed</a><b data-testid="failed" class="${summary.value.failed > 0 ? 'bad' : ''}">${summary.value.failed}</b></div>
<div class="card"><a href="/console/chains?state=completed">completed</a><b>${summary.value.completed}</b></div>
</div>
<h2>Last failures</h2>
${
  summary.value.recentFailures.length === 0
    ? html`<p class="muted">none</p>`
    : html`<table><tr><th>correspondence</th><th>failed at</th><th>step</th><th>reasons</th></tr>
${summary.value.recentFailures.map(
  (
    f,
  ) => html`<tr><td><a href="/console/correspondences/${f.correspondenceId}"><code>${f.correspondenceId}</code></a></td><td>${f.failedAt}</td><td>${f.step ?? ''}</td>
<td>${f.reasons.map((r) => html`<code>${r.rule}</code> ${r.message}<br>`)}</td></tr>`,
)}</table>`
}`
    : html`<p>Chains: ${unavailable(summary.why)}</p>`
}
<h2>Certificates expiring within ${expiring.ok ? expiring.value.days : 30} days</h2>
${
  expiring.ok
    ? expiring.value.certificates.length === 0
      ? html`<p class="ok" data-testid="no-expiring">none</p>`
      : html`<table data-testid="expiring"><tr><th>certificate</th><th>party</th><th>subject</th><th>not after</th><th>days left</th></tr>
${expiring.value.certificates.map(
  (c) =>
    html`<tr><td><code>${c.certificateId}</code></td><td><a href="/console/chains${query({ operator: c.partyId })}"><code>${c.partyId}</code></a></td><td>${c.subject}</td><td>${c.notAfter}</td><td class="${c.daysLeft < 7 ? 'bad' : ''}">${c.daysLeft}</td></tr>`,
)}</table>`
    : html`<p>${unavailable(expiring.why)}</p>`
}
<h2>Health of each role</h2>
${
  health.ok
    ? html`<p>Process <b class="${health.value.status === 'up' ? 'ok' : 'bad'}">${health.value.status}</b>, roles: ${health.value.roles.join(', ')}</p>
<table><tr><th>component</th><th>state</th><th>detail</th></tr>
${Object.entries(health.value.components).map(
  ([name, c]) => html`<tr><td>${name}</td><td class="${c.up ? 'ok' : 'bad'}">${c.up ? 'up' : 'down'}</td><td>${c.detail ?? ''}</td></tr>`,
)}</table>`
    : html`<p>${unavailable(health.why)}</p>`
}
${
  data.remote
    ? html`<table data-testid="remote-roles"><tr><th>role in another process</th><th>state</th><th>instances</th></tr>
${Object.entries(data.remote.roles).map(
  ([name, r]) => html`<tr><td>${name}</td><td class="${r.up ? 'ok' : 'bad'}">${r.up ? 'up' : 'down'}</td>
<td>${r.urls.map((u) => html`<div><code>${u.url}</code> <span class="${u.up ? 'ok' : 'bad'}">${u.up ? 'up' : 'down'}</span> ${u.detail ?? ''}</div>`)}</td></tr>`,
)}</table>`
    : ''
}
<h2>Dead letters per topic</h2>
${
  bus.ok
    ? bus.value.unreachable !== undefined
      ? busUnreachable(bus.value.unreachable)
      : bus.value.deadLetters.length === 0
        ? html`<p class="ok" data-testid="no-dead-letters">none</p>`
        : html`<table data-testid="dead-letter-counts"><tr><th>topic</th><th>group</th><th>dead letters</th></tr>
${bus.value.deadLetters.map(
  (d) =>
    html`<tr><td>${bus.value.bus === 'kafka' ? d.topic : html`<a href="/console/dead-letters${query({ topic: d.topic })}">${d.topic}</a>`}</td><td>${d.group ?? html`<span class="muted">each record's <code>dlq_group</code></span>`}</td><td class="bad">${d.count}</td></tr>`,
)}</table>${bus.value.bus === 'kafka' ? html`<p class="muted">Kafka: records retained by each <code>.dlq</code> topic.</p>` : ''}`
    : html`<p>${unavailable(bus.why)}</p>`
}
<h2>Consumer lag per group</h2>
${
  bus.ok
    ? bus.value.unreachable !== undefined
      ? busUnreachable(bus.value.unreachable)
      : bus.value.bus === 'kafka'
        ? html`<table data-testid="consumer-lag"><tr><th>group</th><th>topic</th><th>committed offset</th><th>log-end offset</th><th>lag</th><th>per partition (committed/end)</th></tr>
${bus.value.lag.map(
  (l) =>
    html`<tr><td>${l.group}</td><td>${l.topic}</td><td>${l.checkpoint}</td><td>${l.head}</td><td class="${l.behind > 0 ? 'bad' : 'ok'}">${l.behind}</td>
<td class="muted">${(l.partitions ?? []).map((p) => `${p.partition}: ${p.committed ?? '—'}/${p.end}`).join(' · ')}</td></tr>`,
)}</table>`
        : html`<table data-testid="consumer-lag"><tr><th>group</th><th>topic</th><th>checkpoint</th><th>head of log</th><th>messages behind</th></tr>
${bus.value.lag.map(
  (l) =>
    html`<tr><td>${l.group}</td><td>${l.topic}</td><td>${l.checkpoint}</td><td>${l.head}</td><td class="${l.behind > 0 ? 'bad' : 'ok'}">${l.behind}</td></tr>`,
)}</table>`
    : html`<p class="muted">${unavailable(bus.why)}</p>`
}
<h2>Projections</h2>
${
  projections.ok
    ? html`<p class="muted">Each projection is fed by the <code>sigillum.projections.view</code> group: its distance from the head of the log is in the lag table above.</p>
<table data-testid="projections"><tr><th>projection</th><th>version</th><th>state</th><th>digest</th><th></th></tr>
${projections.value.projections.map(
  (p) => html`<tr><td><a href="/console/projections/${p.name}">${p.name}</a></td><td>${p.version}</td>
<td>${p.rebuilding ? html`rebuilding…${p.progress ? html`<br>${progressBar(p.progress)}` : ''}` : 'live'}</td><td><code>${p.digest.slice(0, 16)}…</code></td>
<td>${data.canRebuild && !p.rebuilding ? rebuildButton(p.name, frame.csrf) : ''}</td></tr>`,
)}</table>`
    : html`<p>${unavailable(projections.why)}</p>`
}
<p class="muted">Refreshed every ${frame.refresh ?? 0} s. ${summary.ok ? html`Read at ${(summary.value as Summary & { at?: string }).at ?? ''}.` : ''}</p>`,
  );
}

const rebuildButton = (name: string, csrf: string | undefined) =>
  html`<form class="inline" method="post" action="/console/projections/${name}/rebuild"><input type="hidden" name="csrf" value="${csrf ?? ''}"><button data-testid="rebuild">Rebuild</button></form>`;

/** One projection: its rebuild under way (bar, position/head, pace, time left; the page reloads every 2 s), the last report, the last failure. */
export function projectionPage(frame: Frame, name: string, status: Read<RebuildStatus>, canRebuild: boolean): string {
  if (!status.ok) return page(frame, html`<h1>Projection ${name}</h1><p>${unavailable(status.why)}</p>`);
  const { progress, last, lastFailure } = status.value;
  return page(
    frame,
    html`<h1>Projection ${name}</h1>
<p>State: <b data-testid="projection-state" class="${progress ? '' : 'ok'}">${progress ? 'rebuilding…' : 'live'}</b>
${canRebuild && !progress ? rebuildButton(name, frame.csrf) : ''}</p>
${
  progress
    ? html`<p>${progressBar(progress)}</p>
<table><tr><th>started at</th><th>events of the log read</th><th>of this projection</th><th>applied</th><th>refused</th></tr>
<tr><td>${progress.startedAt}</td><td>${progress.eventsScanned}</td><td>${progress.eventsRead}</td><td>${progress.applied}</td><td>${progress.poison}</td></tr></table>
<p class="muted">This page reloads every ${frame.refresh ?? 2} s until the rebuild is done; live messages wait for it.</p>`
    : ''
}
${
  lastFailure
    ? html`<div class="error" role="alert" data-testid="rebuild-failure">The last rebuild (started ${lastFailure.startedAt}) failed at ${lastFailure.failedAt}: ${lastFailure.error}</div>`
    : ''
}
<h2>Last rebuild</h2>
${
  last
    ? html`<table data-testid="last-rebuild"><tr><th>started at</th><th>finished at</th><th>events read</th><th>applied</th><th>refused</th><th>last position</th><th>digest</th></tr>
<tr><td>${last.startedAt}</td><td>${last.finishedAt}</td><td>${last.eventsRead}</td><td>${last.applied}</td><td class="${last.poison > 0 ? 'bad' : ''}">${last.poison}</td><td>${last.lastPosition ?? '—'}</td><td><code>${last.digest}</code></td></tr></table>
<table><tr><th>table</th><th>rows</th></tr>${Object.entries(last.rows).map(([table, rows]) => html`<tr><td><code>${table}</code></td><td>${rows}</td></tr>`)}</table>`
    : html`<p class="muted">none since this process started</p>`
}
<p><a href="/console">Back to the overview</a></p>`,
  );
}
