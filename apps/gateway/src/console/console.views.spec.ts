import type { Principal } from '@sigillum/auth';
import { type BusView, overviewPage, projectionPage, type RebuildStatus } from './console.views';

/** The pages of this change rendered as the console serves them: the Kafka bus, a rebuild under way and done. */
const ops = { kind: 'staff', subject: 'ops-1', roles: ['ops'] } as unknown as Principal;
const frame = (refresh?: number) => ({ title: 't', principal: ops, csrf: 'c'.repeat(43), refresh });
const unread = { ok: false as const, why: 'not asked' };

const overview = (bus: BusView) =>
  overviewPage(frame(10), {
    summary: unread,
    health: unread,
    bus: { ok: true, value: bus },
    projections: {
      ok: true,
      value: {
        projections: [
          {
            name: 'mailbox',
            version: 3,
            rebuilding: true,
            digest: 'f'.repeat(64),
            progress: {
              projection: 'mailbox',
              startedAt: '2026-01-01T00:00:00.000Z',
              headPosition: '2000',
              position: '750',
              percent: 37.5,
              eventsScanned: 750,
              eventsRead: 300,
              applied: 300,
              poison: 0,
              eventsPerSecond: 1500,
              etaSeconds: 1,
            },
          },
          { name: 'audit', version: 2, rebuilding: false, digest: 'e'.repeat(64), progress: null },
        ],
      },
    },
    expiring: unread,
    canRebuild: true,
  });

describe('console views: bus and projections', () => {
  it('Kafka: lag per group and topic with committed and log-end offsets, dead letters per .dlq topic', () => {
    const page = overview({
      bus: 'kafka',
      deadLetters: [{ topic: 'sigillum.chain.events.dlq', group: null, count: 2 }],
      lag: [
        {
          group: 'sigillum.projections.view.a',
          topic: 'sigillum.chain.events',
          checkpoint: 40,
          head: 45,
          behind: 5,
          partitions: [
            { partition: 0, committed: 40, end: 42, lag: 2 },
            { partition: 1, committed: null, end: 3, lag: 3 },
          ],
        },
      ],
    });
    expect(page).toContain('<th>committed offset</th><th>log-end offset</th><th>lag</th>');
    expect(page).toMatch(/<td>sigillum\.projections\.view\.a<\/td><td>sigillum\.chain\.events<\/td><td>40<\/td><td>45<\/td><td class="bad">5<\/td>/);
    expect(page).toContain('0: 40/42 · 1: —/3');
    expect(page).toMatch(/<td>sigillum\.chain\.events\.dlq<\/td>.*<td class="bad">2<\/td>/);
    expect(page).not.toContain('bus unreachable');
    expect(page).not.toContain('/console/dead-letters?topic='); // the dead-letter pages are the embedded bus's
  });

  it('Kafka brokers out of reach: a visible cell in both tables, saying why', () => {
    const page = overview({ bus: 'kafka', deadLetters: [], lag: [], unreachable: 'brokers 10.0.0.9:9092: no answer within 3000 ms' });
    const cells = page.match(
      /<td class="bad" data-testid="bus-unreachable">bus unreachable: brokers 10\.0\.0\.9:9092: no answer within 3000 ms, check KAFKA_BROKERS<\/td>/g,
    );
    expect(cells).toHaveLength(2);
  });

  it('embedded: as before, checkpoint and head of the log, dead letters linked to their list', () => {
    const page = overview({
      bus: 'embedded',
      deadLetters: [{ topic: 'sigillum.chain.events.dlq', group: 'sigillum.projections.view', count: 1 }],
      lag: [{ group: 'sigillum.certifier', topic: 'sigillum.chain.events', checkpoint: 7, head: 9, behind: 2 }],
    });
    expect(page).toContain('<th>checkpoint</th><th>head of log</th><th>messages behind</th>');
    expect(page).toContain('href="/console/dead-letters?topic=sigillum.chain.events.dlq"');
    expect(page).toContain('<td>sigillum.projections.view</td>');
  });

  it('the overview shows a rebuild under way with its bar; no Rebuild button while it runs', () => {
    const page = overview({ bus: 'embedded', deadLetters: [], lag: [] });
    expect(page).toContain('<a href="/console/projections/mailbox">mailbox</a>');
    expect(page).toContain('<progress data-testid="rebuild-progress" max="100" value="37.5">');
    expect(page).toContain('37.5 % · position 750 of head 2000 · 1500 events/s · about 1 s left');
    expect(page.match(/action="\/console\/projections\/[a-z]+\/rebuild"/g)).toEqual(['action="/console/projections/audit/rebuild"']);
  });

  const report = {
    eventsRead: 300,
    applied: 300,
    poison: 0,
    lastPosition: '2000',
    digest: 'a'.repeat(64),
    rows: { rm_mailbox_correspondences: 4 },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:02.000Z',
  };

  it('a projection page: reloads every 2 s while rebuilding, with the bar and figures; then live with the last report and no reload', () => {
    const running: RebuildStatus = {
      projection: 'mailbox',
      state: 'rebuilding',
      progress: {
        projection: 'mailbox',
        startedAt: '2026-01-01T00:00:00.000Z',
        headPosition: null,
        position: null,
        percent: null,
        eventsScanned: 0,
        eventsRead: 0,
        applied: 0,
        poison: 0,
        eventsPerSecond: 0,
        etaSeconds: null,
      },
      last: null,
      lastFailure: null,
    };
    const during = projectionPage(frame(2), 'mailbox', { ok: true, value: running }, true);
    expect(during).toContain('<meta http-equiv="refresh" content="2">');
    expect(during).toContain('<b data-testid="projection-state" class="">rebuilding…</b>');
    expect(during).toContain('<progress data-testid="rebuild-progress" max="100">'); // no head yet: an indeterminate bar
    expect(during).toContain('position — of head — · 0 events/s · time left unknown');
    expect(during).not.toContain('data-testid="rebuild"'); // no second rebuild while one runs
    expect(during).not.toMatch(/<script/i);

    const after = projectionPage(frame(), 'mailbox', { ok: true, value: { ...running, state: 'idle', progress: null, last: report } }, true);
    expect(after).not.toContain('http-equiv="refresh"');
    expect(after).toContain('<b data-testid="projection-state" class="ok">live</b>');
    expect(after).toContain('data-testid="last-rebuild"');
    expect(after).toContain('<td><code>rm_mailbox_correspondences</code></td><td>4</td>');
    expect(after).toContain('data-testid="rebuild"');

    const failed = projectionPage(
      frame(),
      'mailbox',
      { ok: true, value: { ...running, state: 'idle', progress: null, last: report, lastFailure: { startedAt: 'a', failedAt: 'b', error: '<disk> on fire' } } },
      false,
    );
    expect(failed).toContain('failed at b: &lt;disk&gt; on fire');
    expect(failed).not.toContain('data-testid="rebuild"'); // not ops
  });
});
