import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { eventually } from '@sigillum/testing';
import { ConsoleWorld } from './console-fixture';

/**
 * The console driven in Debian's Chromium (playwright-core, no browser download): sign in, see a stuck chain appear
 * after the processing operator stops answering, open its timeline, find a dead letter with its reason, and check
 * that an `ops` user never sees a subject while an auditor sees it as text; rebuild a projection and follow it on its
 * page until it is live again. Screenshots go to docs/console/.
 * `.ci/run` installs the `chromium` package when it is missing; without it this suite says so and is skipped.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve(__dirname, '../../../docs/console');
const available = fs.existsSync(CHROMIUM);
if (!available) process.stdout.write(`console browser suite SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)\n`);
const suite = available ? describe : describe.skip;

suite('operator console in Chromium', () => {
  const world = new ConsoleWorld();
  let browser: Browser;
  let page: Page;
  let letter: Awaited<ReturnType<ConsoleWorld['sendLetter']>>;

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await world.start();
    letter = await world.sendLetter('console-browser-1');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await world.stop();
  }, 30_000);

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  async function signIn(token: string): Promise<void> {
    await page.goto(`${world.base}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await page.fill('input[name="token"]', token);
    await Promise.all([page.waitForURL(`${world.base}/console`), page.click('button[type="submit"]')]);
  }

  it('signs in as ops and sees a stuck chain appear once the operator stops answering', async () => {
    await page.goto(`${world.base}/console/login`);
    await shot('sign-in');
    await signIn(world.tokens.ops);
    expect(await page.textContent('[data-testid="who"]')).toContain('ops-on-call');
    expect(await page.textContent('[data-testid="stuck"]')).toBe('0');
    expect(await page.textContent('[data-testid="in-flight"]')).toBe('1');

    await world.passDeadline(letter.token);
    await eventually(async () => {
      await page.goto(`${world.base}/console`);
      expect(await page.textContent('[data-testid="stuck"]')).toBe('1');
    }, 15_000);
    await shot('overview');
  }, 60_000);

  it('opens the stuck chain and its timeline: operator, deadlines, the missed one; no subject for ops', async () => {
    await Promise.all([page.waitForURL(/\/console\/chains\?state=stuck/), page.click('a[href="/console/chains?state=stuck"]')]);
    const row = page.locator('[data-testid="chains"] tr', { hasText: letter.correspondenceId });
    expect(await row.textContent()).toContain('stuck');
    await shot('chains-stuck');
    await Promise.all([page.waitForURL(new RegExp(`/console/correspondences/${letter.correspondenceId}`)), row.locator('a').first().click()]);
    const timeline = await page.textContent('[data-testid="timeline"]');
    expect(timeline).toContain('StepTokenIssued');
    expect(timeline).toContain('StepDeadlineMissed');
    expect(await page.textContent('body')).toContain(world.operatorId);
    expect(await page.textContent('body')).toContain(letter.token.acknowledgeBy);
    const subject = await page.textContent('[data-testid="subject"]');
    expect(subject).toContain('not shown');
    expect(await page.content()).not.toContain('Confidential');
    await shot('timeline-ops');
  }, 60_000);

  it('finds a dead letter with its reason and headers, never its body', async () => {
    const messageId = await world.publishPoison();
    await eventually(async () => {
      await page.goto(`${world.base}/console/dead-letters`);
      expect(await page.textContent('[data-testid="dead-letters"]')).toContain('sigillum.correspondence.events.dlq');
    }, 15_000);
    await shot('dead-letters');
    await page.click('[data-testid="dead-letters"] tr:nth-child(2) a');
    const body = (await page.textContent('body')) ?? '';
    expect(body).toContain('dlq_reason');
    expect(body).toContain(messageId);
    expect(body).not.toContain('not a submission');
    await shot('dead-letter');
  }, 60_000);

  it('replays a dead letter after a fix and sees it handled: the missed deadline reaches the timeline', async () => {
    world.breakMailbox();
    await world.passDeadline(await world.latestToken(letter.correspondenceId));
    const row = page.locator('[data-testid="dead-letters"] tr', { hasText: 'StepDeadlineMissed' }).filter({ hasText: 'sigillum.projections.view' });
    await eventually(async () => {
      await page.goto(`${world.base}/console/dead-letters?topic=sigillum.chain.events.dlq`);
      expect(await row.count()).toBeGreaterThan(0);
    }, 20_000);
    world.fixMailbox();
    await Promise.all([page.waitForURL(/\/console\/dead-letters\/\d+$/), row.first().locator('a').first().click()]);
    expect(await page.textContent('[data-testid="dead-letter-state"]')).toContain('open');
    await Promise.all([page.waitForURL(/\/console\/dead-letters\/\d+$/), page.click('[data-testid="replay"]')]);
    expect(await page.textContent('[data-testid="dead-letter-state"]')).toContain('replayed 1×');
    await eventually(async () => {
      await page.reload();
      expect(await page.textContent('[data-testid="replay-progress"]')).toContain('has gone past it');
    }, 15_000);
    await shot('dead-letter-replayed');
    await page.goto(`${world.base}/console/correspondences/${letter.correspondenceId}`);
    const missed = await page.locator('[data-testid="timeline"] tr', { hasText: 'StepDeadlineMissed' }).count();
    expect(missed).toBe(2);
  }, 60_000);

  it('rebuilds a projection from the overview and follows it on its page, which reloads itself until it is live again', async () => {
    // Hold the rebuild's first page (after its checks and its reading of the head of the log) until the page was seen.
    const store = world.app.get<EventStore>(EVENT_STORE);
    const readAll = store.readAll.bind(store);
    let probed = false;
    let holding = false;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const spy = jest.spyOn(store, 'readAll').mockImplementation(async (options) => {
      if (options?.maxCount === 1) probed = true;
      else if (probed && !holding && options?.maxCount === 500 && options.after === undefined) {
        holding = true;
        await held;
      }
      return readAll(options);
    });
    try {
      await page.goto(`${world.base}/console`);
      const row = page.locator('[data-testid="projections"] tr', { hasText: 'mailbox' });
      await Promise.all([page.waitForURL(`${world.base}/console/projections/mailbox`), row.locator('[data-testid="rebuild"]').click()]);
      expect(await page.textContent('[data-testid="projection-state"]')).toBe('rebuilding…');
      expect(await page.getAttribute('meta[http-equiv="refresh"]', 'content')).toBe('2');
      expect(await page.textContent('[data-testid="rebuild-figures"]')).toMatch(/^0 % · position — of head \d+ · /);
      await shot('projection-rebuilding');
    } finally {
      release();
      spy.mockRestore();
    }
    // No reload here: the page's own meta refresh brings the end of the rebuild.
    await page.locator('[data-testid="projection-state"]', { hasText: /^live$/ }).waitFor({ timeout: 20_000 });
    expect(await page.textContent('[data-testid="last-rebuild"]')).toMatch(/\d{4}-\d{2}-\d{2}T/);
    await shot('projection-rebuilt');
  }, 60_000);

  it('signs out; an auditor sees the subject as text, and nothing in it runs', async () => {
    await Promise.all([page.waitForURL(/\/console\/login/), page.click('button:has-text("Sign out")')]);
    await signIn(world.tokens.auditor);
    await page.goto(`${world.base}/console/correspondences/${letter.correspondenceId}`);
    const subject = await page.textContent('[data-testid="subject"]');
    expect(subject).toContain('Confidential <script>document.title="pwned"</script>');
    expect(await page.title()).not.toBe('pwned');
    expect(await page.locator('[data-testid="subject"] img').count()).toBe(0);
    await shot('timeline-auditor');
  }, 60_000);
});
