/**
 * The status page in a real browser: headless Chromium (Debian's `chromium`,
 * installed by scripts/ensure-chromium.sh) loads the page of a privguard in
 * front of real Prosody with a component online, with JavaScript off, and
 * the test reads the DOM: the component's row, the three columns, a denial
 * after a roster set the policy refuses, and the page refreshing itself.
 * A screenshot is saved in the test's temp dir (PRIVGUARD_STATUS_SCREENSHOT
 * names a second place, e.g. docs/status-page.png when the README's is
 * refreshed).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/component';
import type { Element } from '@xmpp/xml';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEjabberd, describeProsody, type ServerName } from './harness/servers.js';
import { freePort } from '../support/ports.js';
import { COMPONENT_SECRET, connectComponent, ejabberdServer, startStack, waitStanza, type Peer, type Stack } from './harness/stack.js';

const CHROMIUM = '/usr/bin/chromium';
const PRIV = 'urn:xmpp:privilege:2';
const MAM = 'urn:xmpp:mam:2';

const PROSODY = {
  privileges: {
    'pubsub.example.test': {
      roster: 'both' as const,
      message: 'outgoing' as const,
      presence: 'roster' as const,
      iq: { 'vcard-temp': 'both' as const, 'http://jabber.org/protocol/pubsub': 'set' as const },
    },
  },
  delegations: { [MAM]: { jid: 'pubsub.example.test' } },
};

const policy = (metricsPort: number) => (listen: number, upstream: number) => `listen: { host: 127.0.0.1, port: ${listen} }
upstream: { host: 127.0.0.1, port: ${upstream} }
metrics: { host: 127.0.0.1, port: ${metricsPort} }
components:
  pubsub.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
    speaks: { privilege: 2, delegation: 2 }
    rate: { per_second: 100, burst: 200 }
    privileges:
      example.test:
        roster: get
        message: outgoing
        presence: managed_entity
        iq:
          "vcard-temp": get
          "http://jabber.org/protocol/pubsub": both
        except_users: ["admin"]
    delegations:
      example.test:
        "${MAM}": { attributes: [node] }
  plain.example.test:
    secret: ${COMPONENT_SECRET}
    upstream_secret: s3cr3t
`;

const isAdvertisement = (el: Element) => el.is('message') && el.attrs.from === 'example.test' && el.getChild('privilege', PRIV) !== undefined;

/** The text of the cells of one right's row in one component's domain table. */
async function cells(page: Page, right: string): Promise<{ server: string; policy: string; effective: string; cls: string }> {
  const row = page.locator(`section[data-component="pubsub.example.test"] table[data-domain="example.test"] tr[data-right="${right}"]`);
  return {
    server: (await row.locator('td.server').textContent()) ?? '',
    policy: (await row.locator('td.policy').textContent()) ?? '',
    effective: (await row.locator('td.effective').textContent()) ?? '',
    cls: (await row.getAttribute('class')) ?? '',
  };
}

type Cells = Awaited<ReturnType<typeof cells>>;

/**
 * The rows that depend on what the server grants. Prosody grants vcard-temp
 * both and pubsub set, and delegates MAM. ejabberd grants the iq permission
 * only from 24.12 (vcard-temp get: the harness's), and delegates nothing here:
 * this component does not answer its disco nesting queries.
 */
function serverRows(server: ServerName): Record<string, Cells> {
  if (server.startsWith('prosody-')) {
    return {
      'iq vcard-temp': { server: 'both', policy: 'get', effective: 'get', cls: 'narrowed' },
      // The policy asks both, Prosody gives set: capped by the server.
      'iq http://jabber.org/protocol/pubsub': { server: 'set', policy: 'both', effective: 'set', cls: 'capped' },
      [`delegation ${MAM}`]: { server: 'delegated', policy: 'delegated, needs node', effective: 'delegated, needs node', cls: 'narrowed' },
    };
  }
  return {
    'iq vcard-temp': server === 'ejabberd-24.12' ? { server: 'get', policy: 'get', effective: 'get', cls: 'same' } : { server: 'none', policy: 'get', effective: 'none', cls: 'capped' },
    'iq http://jabber.org/protocol/pubsub': { server: 'none', policy: 'both', effective: 'none', cls: 'capped' },
    [`delegation ${MAM}`]: { server: 'not advertised yet', policy: 'delegated, needs node', effective: 'none', cls: 'none' },
  };
}

function suite(server: ServerName, start: (policy: (listen: number, upstream: number) => string) => Promise<Stack>): void {
  let stack: Stack;
  let comp: Peer;
  let browser: Browser;
  let base: string;
  const dir = mkdtempSync(join(tmpdir(), 'pg-status-page-'));

  beforeAll(async () => {
    // Never a silent skip: without the browser this test fails and says how to get it.
    if (!existsSync(CHROMIUM)) throw new Error(`the status-page test needs Chromium at ${CHROMIUM}: run "sh scripts/ensure-chromium.sh" as root (or apt-get install chromium)`);
    const metricsPort = await freePort();
    base = `http://127.0.0.1:${metricsPort}`;
    stack = await start(policy(metricsPort));
    comp = await connectComponent(stack);
    await waitStanza(comp.stanzas, isAdvertisement, 'the advertisement', 20_000);
    // Running as root (CI), Chromium's sandbox cannot start; the page is our own, on the loopback.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function rosterSet(id: string, user: string): Promise<Element> {
    await comp.entity.send(xml('iq', { type: 'set', id, from: 'pubsub.example.test', to: `${user}@example.test` }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'mallory@example.test' }))));
    return waitStanza(comp.stanzas, (el) => el.is('iq') && el.attrs.id === id, `the answer to ${id}`);
  }

  it('shows the component, the server grant, the policy and the effective rights, and the denial of a roster set', async () => {
    const answer = await rosterSet('deny-1', 'alice');
    expect(answer.attrs.type).toBe('error');

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('privguard status');

    const section = page.locator('section[data-component="pubsub.example.test"]');
    expect(await section.getAttribute('data-connected')).toBe('true');
    expect(await section.locator('h2').textContent()).toContain('connected');
    expect(await page.locator('section[data-component="plain.example.test"]').getAttribute('data-connected')).toBe('false');

    // Prosody grants roster both; the policy allows get; the component was told get: narrowed.
    expect(await cells(page, 'roster')).toEqual({ server: 'both', policy: 'get', effective: 'get', cls: 'narrowed' });
    expect(await cells(page, 'message')).toEqual({ server: 'outgoing', policy: 'outgoing', effective: 'outgoing', cls: 'same' });
    expect(await cells(page, 'presence')).toEqual({ server: 'roster', policy: 'managed_entity', effective: 'managed_entity', cls: 'narrowed' });
    for (const [right, want] of Object.entries(serverRows(server))) expect(await cells(page, right), right).toEqual(want);
    // The mark is visible, not only a class.
    expect(await section.locator('tr[data-right="roster"] td.mark').textContent()).toContain('narrower than the server grants');
    expect(await section.locator('.facts').first().textContent()).toContain('rate 100/s, burst 200');

    const denial = page.locator('#denials tbody tr').first();
    const text = (await denial.textContent()) ?? '';
    expect(text).toContain('denied');
    expect(text).toContain('pubsub.example.test');
    expect(text).toContain('roster.set');
    expect(text).toContain('alice');
    expect(text).toContain('components.pubsub.example.test.privileges.example.test.roster');
    // Denials stand out: a red cell background, not the page's white.
    expect(await denial.locator('td').first().evaluate((td) => getComputedStyle(td).backgroundColor)).toBe('rgb(253, 236, 234)');

    const shot = join(dir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
    if (process.env.PRIVGUARD_STATUS_SCREENSHOT) copyFileSync(shot, process.env.PRIVGUARD_STATUS_SCREENSHOT);

    // With JavaScript off, the page still refreshes itself (meta refresh) and shows a new denial.
    await rosterSet('deny-2', 'bob');
    const refreshed = page.waitForEvent('load', { timeout: 15_000 });
    await refreshed;
    // ejabberd's nesting queries for pubsub, which the policy does not delegate, are denials too (no user).
    expect(await page.locator('#denials tbody tr').filter({ hasText: 'roster.set' }).count()).toBe(2);
    expect(await page.locator('#denials tbody tr').first().textContent()).toContain('bob');
    await context.close();
  }, 60_000);

  it('serves the same data as JSON', async () => {
    const data = (await (await fetch(`${base}/status.json`)).json()) as { components: { name: string; connected: boolean }[]; denials: { user: string | null }[] };
    expect(data.components.map((c) => [c.name, c.connected])).toEqual([
      ['pubsub.example.test', true],
      ['plain.example.test', false],
    ]);
    expect(data.denials.map((d) => d.user).filter((u) => u !== null)).toEqual(['bob', 'alice']);
  });
}

describeProsody('status page in headless Chromium (real Prosody, a component online)', (version) =>
  suite(`prosody-${version}`, (policy) => startStack({ prosody: { ...PROSODY, version }, policy })),
);

describeEjabberd('status page in headless Chromium (real ejabberd, a component online)', (version) =>
  suite(`ejabberd-${version}`, (policy) => startStack({ server: ejabberdServer({ version }), policy })),
);
