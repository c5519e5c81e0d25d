import type { Principal } from '@sigillum/auth';
import type { Frame } from './console.views';
import { type ChainView, retryRefusedPage, timelinePage, type TimelineView } from './timeline.views';

const id = '00000000-0000-4000-8000-000000000001';
const staffFrame = (...roles: ('ops' | 'admin' | 'auditor')[]): Frame => ({
  title: 'Correspondence',
  principal: { kind: 'staff', subject: 'someone', roles, via: 'credential' } satisfies Principal,
  csrf: 'csrf-token-1',
});
const timeline: TimelineView = {
  correspondenceId: id,
  senderId: null,
  kind: 'registered',
  status: 'failed',
  submittedAt: null,
  recipients: [],
  history: [],
  evidence: [],
};
const pageOf = (frame: Frame, chain: ChainView) =>
  timelinePage(frame, id, {
    timeline: { ok: true, value: timeline },
    chain: { ok: true, value: chain },
    subject: { ok: false, why: 'auditors only' },
    verification: { ok: false, why: 'auditors only' },
  });

describe('timeline page: retrying a failed chain', () => {
  const failed: ChainView = { status: 'failed', reasons: [{ rule: 'deadline.acknowledgement-missed', message: 'no answer' }], retries: [], steps: [] };

  it('offers the retry form, with the session CSRF token, on a failed chain to ops and admin only', () => {
    for (const frame of [staffFrame('ops'), staffFrame('admin'), staffFrame('auditor', 'admin')]) {
      const page = pageOf(frame, failed);
      expect(page).toContain(`<form method="post" action="/console/chains/${id}/retry"`);
      expect(page).toContain('<input type="hidden" name="csrf" value="csrf-token-1">');
      expect(page).toContain('name="reason" required maxlength="500"');
    }
    expect(pageOf(staffFrame('auditor'), failed)).not.toContain('retry-chain');
    for (const status of ['running', 'completed', 'refused']) expect(pageOf(staffFrame('ops'), { ...failed, status })).not.toContain('retry-chain');
  });

  it('lists each retry, anchored by its attempt for the redirect, the reason escaped', () => {
    const page = pageOf(staffFrame('ops'), {
      status: 'running',
      retries: [{ stepIndex: 3, attempt: 3, requestedBy: 'ops-1', reason: 'archive back <b>now</b>', retriedAt: '2026-12-01T10:00:00.000Z' }],
      steps: [],
    });
    expect(page).toContain('id="retry-3"');
    expect(page).toContain('Retried by <code>ops-1</code> at 2026-12-01T10:00:00.000Z: step 3, attempt 3. archive back &lt;b&gt;now&lt;/b&gt;');
  });

  it('shows every refusal reason, escaped, and the way back', () => {
    const page = retryRefusedPage(staffFrame('ops'), id, 409, [
      { rule: 'chain.retry.consignment-failed', message: 'failed before <delivery>' },
      { rule: 'chain.retry.exhausted', message: 'retried 2 times' },
    ]);
    expect(page).toContain('<h1>Retry refused</h1>');
    expect(page).toContain('<code>chain.retry.consignment-failed</code> failed before &lt;delivery&gt;');
    expect(page).toContain('<code>chain.retry.exhausted</code> retried 2 times');
    expect(page).toContain(`<a href="/console/correspondences/${id}">`);
    expect(retryRefusedPage(staffFrame('ops'), id, 400, [{ rule: 'isPlainText', message: 'reason must be plain text' }])).toContain('Retry failed (400)');
  });
});
