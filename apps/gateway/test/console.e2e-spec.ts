import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { eventually } from '@sigillum/testing';
import { ConsoleWorld, SECRET_SUBJECT } from './console-fixture';

/**
 * The console over HTTP (no browser): who may open which page and query, the session cookie and its CSRF token,
 * the stuck chain counted and listed, the timeline, the subject hidden from ops and escaped for auditors.
 */
describe('operator console (embedded, HTTP)', () => {
  const world = new ConsoleWorld();
  let letter: Awaited<ReturnType<ConsoleWorld['sendLetter']>>;

  beforeAll(async () => {
    await world.start();
    letter = await world.sendLetter('console-http-1');
  }, 120_000);
  afterAll(() => world.stop(), 30_000);

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${world.base}${path}`, { headers, redirect: 'manual' });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** Signs in through the form; returns the cookie and the page's CSRF token. */
  async function signIn(token: string): Promise<{ cookie: string; csrf: string }> {
    const response = await fetch(`${world.base}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    expect(response.status).toBe(303);
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(token);
    const cookie = setCookie.split(';')[0];
    const overview = await get('/console', { cookie });
    expect(overview.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(overview.headers.get('cache-control')).toBe('no-store');
    const page = await overview.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    if (!csrf) throw new Error('no CSRF token in the overview');
    return { cookie, csrf };
  }

  it('query routes: 401 anonymous, 403 to a role without them, 200 to ops', async () => {
    for (const path of ['/ops/chains', '/ops/chains/summary', `/ops/chains/${letter.correspondenceId}/timeline`, '/ops/bus', '/ops/dead-letters']) {
      expect((await get(path)).status).toBe(401);
      const refused = await get(path, bearer(world.tokens.registrar));
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { reasons: { rule: string }[] }).reasons[0].rule).toBe('access.role');
      expect((await get(path, bearer(world.tokens.ops))).status).toBe(200);
    }
    // dead letters carry message keys and headers: not for auditors
    expect((await get('/ops/dead-letters', bearer(world.tokens.auditor))).status).toBe(403);
  });

  it('certificates expiring within 30 days: listed on the overview, soonest first; 401/403 on the query', async () => {
    const issue = (validityDays: number) =>
      fetch(`${world.base}/certificates`, {
        method: 'POST',
        headers: { ...bearer(world.tokens.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ partyId: world.operatorId, keyId: world.operatorKeyId, profile: 'client', validityDays }),
      }).then(async (r) => {
        expect(r.status).toBe(201);
        return ((await r.json()) as { certificateId: string }).certificateId;
      });
    const soon = await issue(10);
    const later = await issue(365);
    expect((await get('/ops/certificates/expiring')).status).toBe(401);
    expect((await get('/ops/certificates/expiring', bearer(world.tokens.registrar))).status).toBe(403);
    expect((await get('/ops/certificates/expiring?days=0', bearer(world.tokens.ops))).status).toBe(400);
    const ids = async () =>
      ((await (await get('/ops/certificates/expiring', bearer(world.tokens.ops))).json()) as { certificates: { certificateId: string }[] }).certificates.map(
        (c) => c.certificateId,
      );
    await eventually(async () => expect(await ids()).toContain(soon), 10_000);
    expect(await ids()).not.toContain(later);
    const { cookie } = await signIn(world.tokens.ops);
    const overview = await (await get('/console', { cookie })).text();
    expect(overview).toContain(soon);
    expect(overview).not.toContain(later);
  });

  it('bad filters answer 400 naming the field and the rule', async () => {
    const response = await get('/ops/chains?state=sleeping&limit=1000', bearer(world.tokens.ops));
    expect(response.status).toBe(400);
    const text = JSON.stringify(await response.json());
    expect(text).toContain('state');
    expect(text).toContain('limit');
  });

  it('console pages: anonymous is sent to the sign-in page, a registrar token is refused, a forged cookie is nobody', async () => {
    const anonymous = await get('/console');
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/console/login');
    expect((await get('/console', { cookie: 'sigillum_console=forged-session-id' })).status).toBe(303);
    const registrar = await fetch(`${world.base}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: world.tokens.registrar }),
    });
    expect(registrar.status).toBe(403);
    expect(registrar.headers.get('set-cookie')).toBeNull();
    const wrong = await fetch(`${world.base}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'sgst_not-a-real-token-at-all' }),
    });
    expect(wrong.status).toBe(401);
  });

  it('a stuck chain appears on the overview once its operator misses the deadline, and in the stuck list', async () => {
    const { cookie } = await signIn(world.tokens.ops);
    const stuckCount = async () => Number(/data-testid="stuck"[^>]*>(\d+)</.exec(await (await get('/console', { cookie })).text())?.[1]);
    expect(await stuckCount()).toBe(0);
    await world.passDeadline(letter.token);
    await eventually(async () => expect(await stuckCount()).toBe(1), 15_000);
    const list = await (await get('/console/chains?state=stuck', { cookie })).text();
    expect(list).toContain(letter.correspondenceId);
    const api = (await (await get('/ops/chains?state=stuck', bearer(world.tokens.ops))).json()) as { items: { correspondenceId: string; stuck: boolean }[] };
    expect(api.items).toEqual([expect.objectContaining({ correspondenceId: letter.correspondenceId, stuck: true })]);
  });

  it('the timeline shows the chain, its operator and deadlines; ops never sees the subject, the auditor sees it escaped', async () => {
    const ops = await signIn(world.tokens.ops);
    const opsPage = await (await get(`/console/correspondences/${letter.correspondenceId}`, { cookie: ops.cookie })).text();
    expect(opsPage).toContain('StepTokenIssued');
    expect(opsPage).toContain('StepDeadlineMissed');
    expect(opsPage).toContain(world.operatorId);
    expect(opsPage).toContain(letter.token.acknowledgeBy);
    // links between them: a fact's token to the token's row in the chain table
    expect(opsPage).toContain(`<tr id="token-${letter.token.tokenId}"`);
    expect(opsPage).toContain(`href="#token-${letter.token.tokenId}"`);
    expect(opsPage).not.toContain('Confidential');
    const opsTimeline = await (await get(`/ops/chains/${letter.correspondenceId}/timeline`, bearer(world.tokens.ops))).text();
    expect(opsTimeline).not.toContain('Confidential');

    const auditor = await signIn(world.tokens.auditor);
    const auditorPage = await (await get(`/console/correspondences/${letter.correspondenceId}`, { cookie: auditor.cookie })).text();
    expect(auditorPage).toContain('Confidential &lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;');
    expect(auditorPage).not.toContain(SECRET_SUBJECT);
    expect(auditorPage).not.toMatch(/<script/i);
  });

  it('POST actions need the session CSRF token and a same-origin form; ops rebuilds, an auditor may not', async () => {
    const ops = await signIn(world.tokens.ops);
    const post = (path: string, body: Record<string, string>, headers: Record<string, string>) =>
      fetch(`${world.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(body),
      });
    expect((await post('/console/projections/mailbox/rebuild', {}, { cookie: ops.cookie })).status).toBe(403);
    expect((await post('/console/projections/mailbox/rebuild', { csrf: 'x'.repeat(43) }, { cookie: ops.cookie })).status).toBe(403);
    expect((await post('/console/projections/mailbox/rebuild', { csrf: ops.csrf }, { cookie: ops.cookie, origin: 'https://evil.example' })).status).toBe(403);
    const rebuilt = await post('/console/projections/mailbox/rebuild', { csrf: ops.csrf }, { cookie: ops.cookie, origin: world.base });
    expect(rebuilt.status).toBe(303);
    expect(rebuilt.headers.get('location')).toBe('/console/projections/mailbox'); // started (202), followed on its page
    const auditor = await signIn(world.tokens.auditor);
    const refused = await post('/console/projections/mailbox/rebuild', { csrf: auditor.csrf }, { cookie: auditor.cookie });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('access.role');
  });

  it('a projection page: ops, auditor and admin follow its rebuild to the last report; only ops has the button', async () => {
    const ops = await signIn(world.tokens.ops);
    const opsPage = await eventually(async () => {
      const text = await (await get('/console/projections/mailbox', { cookie: ops.cookie })).text();
      expect(text).toContain('data-testid="projection-state" class="ok">live<');
      return text;
    }, 15_000);
    expect(opsPage).toContain('data-testid="last-rebuild"');
    expect(opsPage).toContain('data-testid="rebuild"');
    expect(opsPage).not.toContain('http-equiv="refresh"'); // reloads only while a rebuild runs
    for (const token of [world.tokens.auditor, world.tokens.admin]) {
      const { cookie } = await signIn(token);
      const response = await get('/console/projections/mailbox', { cookie });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain('data-testid="last-rebuild"');
      expect(text).not.toContain('data-testid="rebuild"');
    }
    expect((await get('/console/projections/nope', { cookie: ops.cookie })).status).toBe(404);
    expect((await get('/console/projections/NOT_A_NAME', { cookie: ops.cookie })).status).toBe(400);
    expect((await get('/console/projections/mailbox')).status).toBe(303); // anonymous: to the sign-in page
    const overview = await (await get('/console', { cookie: ops.cookie })).text();
    expect(overview).toContain('<a href="/console/projections/mailbox">mailbox</a>');
  });

  it('a dead letter is counted per topic and listed with its reason, never its body', async () => {
    const messageId = await world.publishPoison();
    const ops = await signIn(world.tokens.ops);
    await eventually(
      async () =>
        expect(await (await get('/console/dead-letters', { cookie: ops.cookie })).text()).toContain(
          messageId.slice(0, 0) + 'sigillum.correspondence.events.dlq',
        ),
      15_000,
    );
    const list = (await (await get('/ops/dead-letters', bearer(world.tokens.ops))).json()) as {
      items: { offset: number; messageId: string; headers: Record<string, string> }[];
    };
    const letterOf = list.items.find((item) => item.messageId === messageId);
    expect(letterOf?.headers.dlq_reason).toBeTruthy();
    const page = await (await get(`/console/dead-letters/${letterOf!.offset}`, { cookie: ops.cookie })).text();
    expect(page).toContain('dlq_reason');
    expect(page).not.toContain('not a submission');
  });

  it('a dead letter replayed after a fix is handled: recorded as an event, and the fact reaches the read model', async () => {
    const ops = await signIn(world.tokens.ops);
    const timeline = async () =>
      (await (await get(`/ops/chains/${letter.correspondenceId}/timeline`, bearer(world.tokens.ops))).json()) as {
        history: { type: string; eventId: string }[];
      };
    const missedBefore = (await timeline()).history.filter((h) => h.type === 'StepDeadlineMissed').length;
    world.breakMailbox();
    await world.passDeadline(await world.latestToken(letter.correspondenceId));
    type Letters = { items: { offset: number; type: string; group: string; topic: string; state: { status: string } }[] };
    const dead = await eventually(async () => {
      const list = (await (await get('/ops/dead-letters?topic=sigillum.chain.events.dlq', bearer(world.tokens.ops))).json()) as Letters;
      const found = list.items.find((item) => item.type.endsWith('StepDeadlineMissed') && item.group === 'sigillum.projections.view');
      if (!found) throw new Error('not dead-lettered yet');
      return found;
    }, 20_000);
    expect(dead.state.status).toBe('open');
    world.fixMailbox();
    // an auditor may look but not act; a bad reason is refused naming the rule
    expect((await fetch(`${world.base}/ops/dead-letters/${dead.offset}/replay`, { method: 'POST', headers: bearer(world.tokens.auditor) })).status).toBe(403);
    expect((await fetch(`${world.base}/ops/dead-letters/${dead.offset}/replay`, { method: 'POST' })).status).toBe(401);
    const badReason = await fetch(`${world.base}/ops/dead-letters/${dead.offset}/discard`, {
      method: 'POST',
      headers: { ...bearer(world.tokens.ops), 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'a\u202eb' }),
    });
    expect(badReason.status).toBe(400);
    expect(await badReason.text()).toContain('reason');

    const replayed = await fetch(`${world.base}/console/dead-letters/${dead.offset}/replay`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: ops.cookie },
      body: new URLSearchParams({ csrf: ops.csrf }),
    });
    expect(replayed.status).toBe(303);
    await eventually(async () => expect((await timeline()).history.filter((h) => h.type === 'StepDeadlineMissed').length).toBe(missedBefore + 1), 15_000);
    const events = await world.app.get<EventStore>(EVENT_STORE).readStream(`deadletter-${dead.offset}`);
    expect(events.map(({ event }) => event.type)).toEqual(['DeadLetterReplayed']);
    expect(events[0].event.data).toMatchObject({
      offset: dead.offset,
      group: 'sigillum.projections.view',
      originalTopic: 'sigillum.chain.events',
      by: 'ops-on-call',
      replay: 1,
    });
    await eventually(
      async () => expect(await (await get(`/console/dead-letters/${dead.offset}`, { cookie: ops.cookie })).text()).toContain('has gone past it'),
      15_000,
    );

    // the other dead letters of the fault: one discarded with a reason, then closed
    const list = (await (await get('/ops/dead-letters?topic=sigillum.chain.events.dlq', bearer(world.tokens.ops))).json()) as Letters;
    const other = list.items.find((item) => item.offset !== dead.offset && item.state.status === 'open');
    if (other) {
      const discarded = await fetch(`${world.base}/ops/dead-letters/${other.offset}/discard`, {
        method: 'POST',
        headers: { ...bearer(world.tokens.ops), 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'token reissued since; nothing to project' }),
      });
      expect(discarded.status).toBe(200);
      const again = await fetch(`${world.base}/ops/dead-letters/${other.offset}/replay`, { method: 'POST', headers: bearer(world.tokens.ops) });
      expect(again.status).toBe(409);
    }
  }, 60_000);

  it('signing out ends the session: the cookie no longer opens a page', async () => {
    const ops = await signIn(world.tokens.ops);
    const out = await fetch(`${world.base}/console/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: ops.cookie },
      body: new URLSearchParams({ csrf: ops.csrf }),
    });
    expect(out.status).toBe(303);
    expect((await get('/console', { cookie: ops.cookie })).status).toBe(303);
  });
});
