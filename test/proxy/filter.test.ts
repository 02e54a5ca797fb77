/**
 * Filtering (roster_items) through a real session: what the component gets,
 * what the server gets in its place, the audit line (hidden count, never the
 * hidden JIDs), and report mode (the original goes on, audited would_filter).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openAdvertised, startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

const ADV = `<message from='example.org' to='a.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both' push='true'/><perm access='presence' type='roster'/></privilege></message>`;
const PRIVILEGES = `privileges:
  example.org: { roster: both, roster_push: true, presence: roster, roster_items: [component] }`;

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function online(top = '') {
  stack = await startFakeStack({ fake: { afterHandshake: ADV }, componentA: PRIVILEGES, top });
  return openAdvertised(stack);
}

const RESULT = `<iq type='result' id='g1' from='alice@example.org' to='a.example.org'><query xmlns='jabber:iq:roster'><item jid='bob@example.org' subscription='both'/><item jid='x@a.example.org'/></query></iq>`;
const PUSH = `<iq type='set' id='push1' from='alice@example.org' to='a.example.org'><query xmlns='jabber:iq:roster'><item jid='bob@example.org' subscription='remove'/></query></iq>`;
const MARK = `<message from='example.org' to='a.example.org' id='mark'/>`;

describe('roster_items through a session', () => {
  it('enforce: the roster result comes without bob, a push about bob is answered by privguard, audited with the count', async () => {
    const { raw, conn } = await online();
    conn.send(RESULT);
    const got = await raw.waitFor((s) => s.attrs.id === 'g1', 'roster result');
    const items = got.getChild('query', 'jabber:iq:roster')!.getChildren('item').map((i) => String(i.attrs.jid));
    expect(items).toEqual(['x@a.example.org']);
    conn.send(PUSH);
    await waitFor('privguard answers the push', () => conn.stanzas.find((s) => s.attrs.id === 'push1' && s.attrs.type === 'result'));
    conn.send(MARK);
    await raw.waitFor((s) => s.attrs.id === 'mark', 'marker');
    expect(raw.stanzas.filter((s) => s.attrs.id === 'push1')).toHaveLength(0);
    const lines = stack!.audit.filter((r) => r.verdict === 'filtered');
    expect(lines).toEqual([
      expect.objectContaining({ action: 'roster.result', user: 'alice', reason: 'out_of_scope', hidden: 1, rule: 'components.a.example.org.privileges.example.org.roster_items', stanza_id: 'g1' }),
      expect.objectContaining({ action: 'roster.push', hidden: 1, stanza_id: 'push1' }),
    ]);
    expect(JSON.stringify(stack!.audit)).not.toContain('bob');
  });

  it('enforce: a contact\'s presence out of scope is not delivered; in scope it is', async () => {
    const { raw, conn } = await online();
    conn.send(`<presence from='carol@remote.org/phone' to='a.example.org'/>`);
    conn.send(`<presence from='x@a.example.org/r' to='a.example.org' id='p2'/>`);
    await raw.waitFor((s) => s.attrs.id === 'p2', 'presence in scope');
    expect(raw.stanzas.filter((s) => s.attrs.from === 'carol@remote.org/phone')).toHaveLength(0);
    expect(stack!.audit).toContainEqual({ component: 'a.example.org', action: 'presence', verdict: 'filtered', reason: 'out_of_scope', hidden: 1 });
  });

  it('report: the component gets everything, the audit says would_filter', async () => {
    const { raw, conn } = await online('mode: report');
    conn.send(RESULT);
    const got = await raw.waitFor((s) => s.attrs.id === 'g1', 'roster result');
    expect(got.getChild('query', 'jabber:iq:roster')!.getChildren('item')).toHaveLength(2);
    conn.send(PUSH);
    await raw.waitFor((s) => s.attrs.id === 'push1', 'push delivered');
    expect(conn.stanzas.filter((s) => s.attrs.id === 'push1')).toHaveLength(0);
    expect(stack!.audit.filter((r) => r.verdict === 'would_filter').map((r) => r.action)).toEqual(['roster.result', 'roster.push']);
  });
});
