/**
 * Scope refusals through a real session (issue 14): in enforce mode a
 * privileged message outside message_to and a publish outside the pubsub
 * nodes are answered forbidden and never reach the server; in report mode
 * both go on, audited would_deny with the scope rule that would have refused them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openAdvertised, startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

const PUBSUB = 'http://jabber.org/protocol/pubsub';
const ADV = `<message from='example.org' to='a.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/><perm access='iq'><namespace ns='${PUBSUB}' type='both'/></perm></privilege></message>`;
const PRIVILEGES = `privileges:
  example.org:
    message: outgoing
    message_to: [component]
    iq:
      "${PUBSUB}": { type: set, to: [self], nodes: ["urn:xmpp:bookmarks:1"] }`;

const MESSAGE = `<message from='a.example.org' to='example.org' id='m1'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org' to='bob@example.org' type='chat'><body>as alice</body></message></forwarded></privilege></message>`;
const PUBLISH = `<iq from='a.example.org' to='alice@example.org' type='set' id='p1'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='set' id='i1'><pubsub xmlns='${PUBSUB}'><publish node='urn:xmpp:omemo:2:devices'><item id='current'/></publish></pubsub></iq></privileged_iq></iq>`;

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function online(top = '') {
  stack = await startFakeStack({ fake: { afterHandshake: ADV }, componentA: PRIVILEGES, top });
  return openAdvertised(stack);
}

const RULES = {
  m1: 'components.a.example.org.privileges.example.org.message_to',
  p1: `components.a.example.org.privileges.example.org.iq.${PUBSUB}.nodes`,
};

describe('scope refusals through a session', () => {
  it('enforce: forbidden to the component, nothing to the server, audited denied with the rule', async () => {
    const { raw, conn } = await online();
    raw.write(MESSAGE + PUBLISH);
    for (const id of ['m1', 'p1'] as const) {
      const err = await raw.waitFor((s) => s.attrs.id === id && s.attrs.type === 'error', `error for ${id}`);
      expect(err.getChild('error')!.getChild('forbidden')).toBeDefined();
      expect(err.getChild('error')!.getChildText('text')).toContain(RULES[id]);
    }
    // A marker after both: the server has seen everything privguard forwarded before it.
    raw.write(`<message from='x@a.example.org' to='alice@example.org' id='mark'/>`);
    await waitFor('marker upstream', () => conn.stanzas.find((s) => s.attrs.id === 'mark'));
    expect(conn.stanzas.filter((s) => s.attrs.id === 'm1' || s.attrs.id === 'p1')).toHaveLength(0);
    for (const id of ['m1', 'p1'] as const) {
      expect(stack!.audit).toContainEqual(expect.objectContaining({ verdict: 'denied', reason: 'out_of_scope', rule: RULES[id], stanza_id: id }));
    }
  });

  it('report: both go to the server, audited would_deny with the rule', async () => {
    const { raw, conn } = await online('mode: report');
    raw.write(MESSAGE + PUBLISH);
    await waitFor('both upstream', () => (conn.stanzas.some((s) => s.attrs.id === 'm1') && conn.stanzas.some((s) => s.attrs.id === 'p1') ? true : undefined));
    for (const id of ['m1', 'p1'] as const) {
      expect(stack!.audit).toContainEqual(expect.objectContaining({ verdict: 'would_deny', reason: 'out_of_scope', rule: RULES[id], stanza_id: id }));
    }
    expect(raw.stanzas.filter((s) => s.attrs.type === 'error')).toHaveLength(0);
  });
});
