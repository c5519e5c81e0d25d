import { DURABLE_TIMERS, type DurableTimers } from '@sigillum/runtime';
import { eventually } from '@sigillum/testing';
import { deadlineTimerId } from '../../certifier/src/chain/chain.deadlines';
import { ConsoleWorld } from './console-fixture';

/**
 * Retrying a failed chain from the console (issue #11), over HTTP: the form on a failed chain's timeline (ops and
 * admin, not auditors), the POST through the API with the staff member's token, and the retry policy's refusal shown
 * with its reasons. The letter here fails at its only step, print-and-post, before reaching its recipient: the policy
 * refuses its retry (`chain.retry.consignment-failed`). A retry the policy allows is driven over the certifier's own
 * route in apps/certifier/src/chain/chain.int-spec.ts.
 */
describe('operator console: retrying a failed chain (embedded, HTTP)', () => {
  const world = new ConsoleWorld();
  let correspondenceId = '';

  beforeAll(async () => {
    await world.start();
    const letter = await world.sendLetter('console-retry-1');
    correspondenceId = letter.correspondenceId;
    // The silent operator misses every deadline: CHAIN_MAX_ATTEMPTS (5) tokens, then ChainFailed.
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const token = await eventually(async () => {
        const latest = await world.latestToken(correspondenceId);
        expect(latest.attempt).toBe(attempt);
        return latest;
      }, 15_000);
      const timers = world.app.get<DurableTimers>(DURABLE_TIMERS);
      await eventually(() => expect(timers.stateOf(deadlineTimerId(token.tokenId, 'acknowledgement'))).toBe('pending'), 15_000);
      await world.passDeadline(token);
    }
    await eventually(async () => {
      const chain = (await (await fetch(`${world.base}/chains/${correspondenceId}`, { headers: bearer(world.tokens.ops) })).json()) as { status: string };
      expect(chain.status).toBe('failed');
    }, 15_000);
  }, 180_000);
  afterAll(() => world.stop(), 30_000);

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${world.base}${path}`, { headers, redirect: 'manual' });
  const post = (path: string, body: Record<string, string>, headers: Record<string, string>) =>
    fetch(`${world.base}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: world.base, ...headers },
      body: new URLSearchParams(body),
    });

  /** Signs in through the form; returns the cookie and the session's CSRF token (read from the correspondence's page). */
  async function signIn(token: string): Promise<{ cookie: string; csrf: string; page: string }> {
    const response = await post('/console/login', { token }, {});
    expect(response.status).toBe(303);
    const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0];
    const page = await (await get(`/console/correspondences/${correspondenceId}`, { cookie })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    if (!csrf) throw new Error('no CSRF token on the page');
    return { cookie, csrf, page };
  }

  it('shows the retry form on a failed chain to ops and admin, never to an auditor', async () => {
    const ops = await signIn(world.tokens.ops);
    expect(ops.page).toContain('data-testid="chain-status">failed<');
    expect(ops.page).toContain(`action="/console/chains/${correspondenceId}/retry"`);
    expect(ops.page).toContain('data-testid="retry-chain"');
    const admin = await signIn(world.tokens.admin);
    expect(admin.page).toContain('data-testid="retry-chain"');
    const auditor = await signIn(world.tokens.auditor);
    expect(auditor.page).toContain('data-testid="chain-status">failed<');
    expect(auditor.page).not.toContain('retry-chain');
  });

  it('a retry the policy refuses shows every reason and links back; nothing is recorded', async () => {
    const ops = await signIn(world.tokens.ops);
    const refused = await post(`/console/chains/${correspondenceId}/retry`, { csrf: ops.csrf, reason: 'the printer is back' }, { cookie: ops.cookie });
    expect(refused.status).toBe(409);
    const page = await refused.text();
    expect(page).toContain('Retry refused');
    expect(page).toContain('chain.retry.consignment-failed');
    expect(page).toContain('step 0 (print-and-post)');
    expect(page).toContain(`href="/console/correspondences/${correspondenceId}"`);
    const chain = (await (await get(`/chains/${correspondenceId}`, bearer(world.tokens.ops))).json()) as { status: string; retries: unknown[] };
    expect(chain).toMatchObject({ status: 'failed', retries: [] });
  });

  it('the form needs a reason, the CSRF token and a role that may retry; signed out, back to the sign-in page', async () => {
    const ops = await signIn(world.tokens.ops);
    const url = `/console/chains/${correspondenceId}/retry`;
    expect((await post(url, { csrf: ops.csrf }, { cookie: ops.cookie })).status).toBe(400);
    expect((await post(url, { csrf: ops.csrf, reason: '' }, { cookie: ops.cookie })).status).toBe(400);
    expect((await post(url, { reason: 'no token' }, { cookie: ops.cookie })).status).toBe(403);
    expect((await post('/console/chains/not-a-uuid/retry', { csrf: ops.csrf, reason: 'x' }, { cookie: ops.cookie })).status).toBe(400);
    const auditor = await signIn(world.tokens.auditor);
    const forbidden = await post(url, { csrf: auditor.csrf, reason: 'I only read' }, { cookie: auditor.cookie });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toContain('access.role');
    const anonymous = await post(url, { reason: 'who am I' }, {});
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/console/login');
  });
});
