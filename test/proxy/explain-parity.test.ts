/**
 * `privguard explain` runs the proxy's own engine: for a component that speaks
 * privilege :1 to a server that speaks :2, the same stanzas through explain and
 * through a running proxy get the same verdicts and reasons.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainStanzas } from '../../src/explain.js';
import { RawComponent } from '../support/component.js';
import { startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

const ADV = `<message from='example.org' to='a.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='get'/><perm access='message' type='outgoing'/><perm access='iq'><namespace ns='jabber:iq:private' type='both'/></perm></privilege></message>`;
const COMPONENT = `speaks: { privilege: 1 }
privileges:
  example.org: { roster: get, message: outgoing, iq: { "jabber:iq:private": get } }`;

const fwd = (id: string, ns: string, from: string) =>
  `<message from='a.example.org' to='example.org' id='${id}'><privilege xmlns='${ns}'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='${from}' to='bob@elsewhere.org' type='chat'><body>hi</body></message></forwarded></privilege></message>`;
const STANZAS = [
  `<iq type='get' id='r1' from='a.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>`,
  `<iq type='set' id='r2' from='a.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'><item jid='x@y.org'/></query></iq>`,
  fwd('m1', 'urn:xmpp:privilege:1', 'alice@example.org'),
  fwd('m2', 'urn:xmpp:privilege:1', 'mallory@evil.org'),
  fwd('m3', 'urn:xmpp:privilege:2', 'alice@example.org'),
  `<iq type='get' id='p1' from='a.example.org' to='alice@example.org'><privileged_iq xmlns='urn:xmpp:privilege:1'><iq xmlns='jabber:client' type='get' id='p1-in'><query xmlns='jabber:iq:private'/></iq></privileged_iq></iq>`,
];

let stack: FakeStack | undefined;
const dir = mkdtempSync(join(tmpdir(), 'pg-explain-'));
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('explain and the proxy agree (component on privilege :1)', () => {
  it('gives the same verdict and reason for every stanza', async () => {
    stack = await startFakeStack({ fake: { afterHandshake: ADV }, componentA: COMPONENT });
    const raw = await RawComponent.open(stack.port, 'a.example.org');
    await raw.waitFor((el) => el.name === 'message' && el.getChild('privilege') !== undefined, 'advertisement');
    raw.write(STANZAS.join(''));
    const ids = ['r1', 'r2', 'm1', 'm2', 'm3', 'p1'];
    const proxied = await waitFor('audit of every stanza', () => {
      const found = ids.map((id) => stack!.audit.find((r) => r.stanza_id === id));
      return found.every((r) => r !== undefined) ? found : undefined;
    });

    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `components:\n  a.example.org:\n    secret: s\n    upstream_secret: u\n${COMPONENT.split('\n').map((l) => `    ${l}`).join('\n')}\n`,
    );
    writeFileSync(join(dir, 'adv.xml'), ADV);
    writeFileSync(join(dir, 'stanzas.xml'), STANZAS.join('\n'));
    const explained = explainStanzas({ policyFile, component: 'a.example.org', direction: 'to-server', stanzaFile: join(dir, 'stanzas.xml'), advertisedFile: join(dir, 'adv.xml') });
    expect(explained).toHaveLength(ids.length);
    const fromExplain = explained.map((e) => ({ verdict: e.verdict.action === 'pass' || e.verdict.action === 'rewrite' ? 'allowed' : 'denied', reason: e.verdict.reason }));
    const fromProxy = proxied.map((r) => ({ verdict: r.verdict, reason: r.reason }));
    expect(fromExplain).toEqual(fromProxy);
    // the :1 stanzas are judged (not refused for their version): one allowed message
    expect(fromProxy[2]).toEqual({ verdict: 'allowed', reason: 'ok' });
  });
});
