/** The status page's data and HTML: rows and marks from a policy and an advertisement, the denial ring, escaping, the routes. */
import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../../src/config/load.js';
import { serveMetrics, noMetrics } from '../../../src/observe/metrics.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { effectiveGrant } from '../../../src/policy/grants.js';
import { parseAdvertisement } from '../../../src/protocol/privilege.js';
import { collectStatus, type LiveLink } from '../../../src/status/collect.js';
import { escapeHtml, renderStatusHtml } from '../../../src/status/html.js';
import { DENIAL_RING_SIZE, StatusSchema, type Status } from '../../../src/status/model.js';
import { StatusRecorder } from '../../../src/status/recorder.js';
import { stanza } from '../policy/helpers.js';

const POLICY = `
components:
  gw.example.test:
    secret: s
    upstream_secret: u
    rate: { per_second: 10, burst: 20 }
    privileges:
      example.test:
        roster: get
        message: outgoing
        message_to: [self]
        presence: roster
        iq:
          "http://jabber.org/protocol/pubsub": { type: both, to: [self], nodes: ["urn:xmpp:avatar:*"] }
          "vcard-temp": get
        users: ["*"]
        except_users: ["admin"]
    delegations:
      example.test:
        "urn:xmpp:mam:2": { attributes: [node] }
  other.example.test:
    secret: t
    upstream_secret: v
`;

// The server grants roster both, no message, presence roster, pubsub set only, vcard-temp both.
const ADV = `<message from='example.test' to='gw.example.test'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='presence' type='roster'/><perm access='iq'><namespace ns='http://jabber.org/protocol/pubsub' type='set'/><namespace ns='vcard-temp' type='both'/></perm></privilege></message>`;

function fixture(now = Date.parse('2026-12-03T04:00:00Z')) {
  const loaded = loadPolicyText(POLICY, 'policy.yaml', {});
  const compiled = compilePolicy(loaded);
  const gw = compiled.components.get('gw.example.test')!;
  const adv = parseAdvertisement(stanza(ADV))!;
  const grant = effectiveGrant('example.test', adv, gw.privileges.get('example.test')).grant;
  const link: LiveLink = {
    view: {
      compiled: gw,
      policy: loaded.components.get('gw.example.test')!.policy,
      advertised: new Map([['example.test', adv.grant]]),
      grants: new Map([['example.test', grant]]),
      delegations: new Map([['example.test', new Map([['urn:xmpp:mam:2', []]])]]),
      serverVersions: () => ({ privilege: 2, delegation: 2 }),
      componentVersions: () => ({ privilege: 1, delegation: 2 }),
    },
    heldBack: true,
    pending: { privileged: { count: 2, oldestAt: now - 1500 }, delegated: { count: 0, oldestAt: undefined } },
  };
  let t = now - 60_000;
  const recorder = new StatusRecorder(() => t);
  recorder.policyLoaded('policy.yaml', loaded.revision);
  recorder.online('gw.example.test');
  t = now - 1000;
  return { loaded, compiled, link, recorder, now, setTime: (v: number) => (t = v) };
}

function status(): Status {
  const f = fixture();
  f.recorder.decision({ component: 'gw.example.test', domain: 'example.test', user: 'alice', action: 'roster.set', verdict: 'denied', reason: 'policy_denied', rule: 'components.gw.example.test.privileges.example.test.roster' });
  f.recorder.decision({ component: 'gw.example.test', domain: 'example.test', user: 'alice', action: 'roster.get', verdict: 'allowed', reason: 'allowed' });
  return collectStatus({ recorder: f.recorder, policy: f.loaded, compiled: f.compiled, links: new Map([['gw.example.test', f.link]]), now: f.now });
}

describe('status data', () => {
  it('shows the three columns per right, marking what the policy narrows and what the server caps', () => {
    const s = StatusSchema.parse(status());
    const gw = s.components.find((c) => c.name === 'gw.example.test')!;
    const rows = Object.fromEntries(gw.domains[0]!.rights.map((r) => [r.name, r]));
    expect(rows.roster).toMatchObject({ server: 'both', policy: 'get', effective: 'get', mark: 'narrowed' });
    expect(rows.message).toMatchObject({ server: 'none', policy: 'outgoing', effective: 'none', mark: 'capped', scope: 'to: self' });
    expect(rows.roster!.scope).toBeNull();
    expect(rows.presence).toMatchObject({ server: 'roster', policy: 'roster', effective: 'roster', mark: 'same' });
    expect(rows['iq http://jabber.org/protocol/pubsub']).toMatchObject({ server: 'set', policy: 'both', effective: 'set', mark: 'capped', scope: 'to: self; nodes: urn:xmpp:avatar:*' });
    expect(rows['iq vcard-temp']).toMatchObject({ server: 'both', policy: 'get', effective: 'get', mark: 'narrowed' });
    expect(rows['delegation urn:xmpp:mam:2']).toMatchObject({ server: 'delegated', policy: 'delegated, needs node', effective: 'delegated, needs node', mark: 'narrowed' });
    expect(gw.domains[0]).toMatchObject({ advertised: true, users: ['*'], except_users: ['admin'], versions: { server: { privilege: 2, delegation: 2 }, component: { privilege: 1, delegation: 2 } } });
    expect(gw).toMatchObject({ connected: true, reconnects: 0, rate: { per_second: 10, burst: 20, held_back: true } });
    expect(gw.pending).toEqual({ privileged: { count: 2, oldest_age_ms: 1500 }, delegated: { count: 0, oldest_age_ms: null } });
    expect(gw.counters).toEqual([
      { action: 'roster.get', allowed: 1, denied: 0, would_deny: 0, filtered: 0 },
      { action: 'roster.set', allowed: 0, denied: 1, would_deny: 0, filtered: 0 },
    ]);
  });

  it('shows a component that is not connected with the policy column only', () => {
    const other = status().components.find((c) => c.name === 'other.example.test')!;
    expect(other).toMatchObject({ connected: false, since: null, domains: [] });
    const f = fixture();
    const gw = collectStatus({ recorder: f.recorder, policy: f.loaded, compiled: f.compiled, links: new Map(), now: f.now }).components[0]!;
    expect(gw.connected).toBe(false);
    expect(gw.domains[0]!.rights.find((r) => r.name === 'roster')).toMatchObject({ server: null, policy: 'get', effective: 'none' });
  });

  it('keeps the last 50 denials, newest first, and never an allowed decision', () => {
    const f = fixture();
    for (let i = 0; i < DENIAL_RING_SIZE + 7; i++) {
      f.recorder.decision({ component: 'gw.example.test', action: 'roster.set', verdict: i % 2 ? 'denied' : 'would_deny', reason: `r${i}`, user: `u${i}` });
      f.recorder.decision({ component: 'gw.example.test', action: 'roster.get', verdict: 'allowed', reason: 'allowed' });
    }
    const d = f.recorder.denials();
    expect(d).toHaveLength(DENIAL_RING_SIZE);
    expect(d[0]!.reason).toBe(`r${DENIAL_RING_SIZE + 6}`);
    expect(d.at(-1)!.reason).toBe('r7');
    expect(f.recorder.counters('gw.example.test')).toEqual([
      { action: 'roster.get', allowed: DENIAL_RING_SIZE + 7, denied: 0, would_deny: 0, filtered: 0 },
      { action: 'roster.set', allowed: 0, denied: 28, would_deny: 29, filtered: 0 },
    ]);
  });

  it('counts reconnects and remembers when a component went', () => {
    const f = fixture();
    f.recorder.offline('gw.example.test');
    f.setTime(f.now);
    f.recorder.online('gw.example.test');
    expect(f.recorder.presence('gw.example.test')).toEqual({ connected: true, since: new Date(f.now).toISOString(), reconnects: 1 });
  });

  it('records a failed reload with line:column, and a good one with the new revision', () => {
    const f = fixture();
    f.recorder.reloaded({ ok: false, errors: [{ path: 'components.gw.example.test.privileges.example.test.roster', line: 7, column: 17, message: '"sometimes" is not one of none, get, set, both' }] });
    expect(f.recorder.policy().last_reload).toMatchObject({ ok: false, errors: [{ line: 7, column: 17 }] });
    expect(f.recorder.policy().revision).toBe(f.loaded.revision);
    f.recorder.reloaded({ ok: true, file: 'policy.yaml', revision: 'abcdef012345' });
    expect(f.recorder.policy()).toMatchObject({ revision: 'abcdef012345', last_reload: { ok: true, errors: [] } });
  });

  it('the revision is the hash of the text: another text, another revision', () => {
    const a = loadPolicyText(POLICY, 'p.yaml', {}).revision;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(loadPolicyText(POLICY, 'q.yaml', {}).revision).toBe(a);
    expect(loadPolicyText(`${POLICY}\n# changed\n`, 'p.yaml', {}).revision).not.toBe(a);
  });
});

describe('status HTML', () => {
  it('is one self-contained page that refreshes itself, with no script and no external asset', () => {
    const html = renderStatusHtml(status());
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it('sets denials apart and marks narrowed rights', () => {
    const html = renderStatusHtml(status());
    expect(html).toMatch(/<table class="denials" id="denials">.*roster\.set.*policy_denied.*components\.gw\.example\.test\.privileges\.example\.test\.roster/s);
    expect(html).toMatch(/<tr class="narrowed" data-right="roster">.*?<td class="server">both<\/td><td class="policy">get<\/td><td class="effective">get<\/td><td class="mark">▼/);
    expect(html).toMatch(/<tr class="capped" data-right="message">/);
    expect(html).toContain('held back now');
    expect(html).toContain('<td class="policy">both<div class="scope">to: self; nodes: urn:xmpp:avatar:*</div></td>');
    expect(html).toContain('2 (oldest 1.5 s)');
  });

  it('escapes everything that comes from outside', () => {
    const f = fixture();
    f.recorder.decision({ component: 'gw.example.test', user: '<img src=x onerror=alert(1)>', action: 'roster.set', verdict: 'denied', reason: '"quoted" & <b>' });
    const html = renderStatusHtml(collectStatus({ recorder: f.recorder, policy: f.loaded, compiled: f.compiled, links: new Map(), now: f.now }));
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&quot;quoted&quot; &amp; &lt;b&gt;');
    expect(escapeHtml(`<a href='x'>&</a>`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('shows a failed reload with file:line:column', () => {
    const f = fixture();
    f.recorder.reloaded({ ok: false, errors: [{ path: 'mode', line: 3, column: 7, message: '"strict" is not one of enforce, report' }] });
    const html = renderStatusHtml(collectStatus({ recorder: f.recorder, policy: f.loaded, compiled: f.compiled, links: new Map(), now: f.now }));
    expect(html).toContain('<span class="badge down">failed</span>');
    expect(html).toContain('<code>policy.yaml:3:7</code> mode: &quot;strict&quot; is not one of enforce, report');
  });
});

describe('status routes on the metrics listener', () => {
  it('serves / as HTML and /status.json as JSON, never cached; other methods are refused', async () => {
    const s = status();
    const server = await serveMetrics({
      host: '127.0.0.1',
      port: 0,
      metrics: noMetrics(),
      ready: () => Promise.resolve(true),
      status: { html: () => renderStatusHtml(s), json: () => JSON.stringify(s) },
    });
    try {
      const base = `http://127.0.0.1:${server.address.port}`;
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(await page.text()).toContain('gw.example.test');
      const json = await fetch(`${base}/status.json?x=1`);
      expect(json.headers.get('content-type')).toBe('application/json');
      expect(StatusSchema.parse(await json.json())).toEqual(s);
      expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('without a status source, / stays not found', async () => {
    const server = await serveMetrics({ host: '127.0.0.1', port: 0, metrics: noMetrics(), ready: () => Promise.resolve(true) });
    try {
      expect((await fetch(`http://127.0.0.1:${server.address.port}/`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('status: filtered stanzas (content scopes)', () => {
  it('counts filtered and would_filter apart, never as denials', () => {
    const r = new StatusRecorder(() => 0);
    r.decision({ component: 'gw.example.test', action: 'roster.result', verdict: 'filtered', reason: 'out_of_scope' });
    r.decision({ component: 'gw.example.test', action: 'roster.result', verdict: 'would_filter', reason: 'out_of_scope' });
    expect(r.counters('gw.example.test')).toEqual([{ action: 'roster.result', allowed: 0, denied: 0, would_deny: 0, filtered: 2 }]);
    expect(r.denials()).toEqual([]);
  });
});
