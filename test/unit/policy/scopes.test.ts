/**
 * Content scopes (issue 14): message_to, iq.<ns> long form { type, to, nodes }.
 * Decisions on fixture stanzas with the server granting everything
 * (FULL_GRANT), so only the policy's scopes decide.
 */
import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../../src/config/load.js';
import { PolicyError } from '../../../src/errors.js';
import { compileNodeScope } from '../../../src/policy/nodes.js';
import { decideOutbound } from '../../../src/policy/outbound.js';
import { verdictText, type Verdict } from '../../../src/policy/verdict.js';
import { C, context, stanza } from './helpers.js';

const PATH = `components.${C}.privileges.example.test`;
const PUBSUB = 'http://jabber.org/protocol/pubsub';

/** The server grants everything these tests use: only the policy's scopes decide. */
const GRANT = `<message from='example.test' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'>${['vcard-temp', 'urn:xmpp:http:upload:0', PUBSUB, `${PUBSUB}#owner`].map((ns) => `<namespace ns='${ns}' type='both'/>`).join('')}</perm></privilege></message>`;

function decide(policy: string, xml: string): Verdict {
  return decideOutbound(context(policy, GRANT).out, stanza(xml));
}

function errorText(v: Verdict): string | undefined {
  if (v.action !== 'reject') return undefined;
  return v.replies[0]?.stanza.getChild('error')?.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? undefined;
}

const privMsg = (to: string, from = 'alice@example.test') =>
  `<message from='${C}' to='example.test' id='m1'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='${from}' to='${to}' type='chat' id='i1'><body>hi</body></message></forwarded></privilege></message>`;

const privIq = (type: 'get' | 'set', payload: string, innerTo?: string, user = 'alice@example.test') =>
  `<iq from='${C}' to='${user}' type='${type}' id='p1'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='${type}' id='i1'${innerTo === undefined ? '' : ` to='${innerTo}'`}>${payload}</iq></privileged_iq></iq>`;

const publish = (node: string, extra = '') => `<pubsub xmlns='${PUBSUB}'><publish node='${node}'><item id='current'><x xmlns='urn:example'/></item></publish>${extra}</pubsub>`;

describe('schema: the keys this issue adds', () => {
  const base = 'components:\n  pubsub.example.org:\n    secret: s\n    upstream_secret: u\n    privileges:\n      example.org:\n';
  const load = (body: string) => loadPolicyText(base + body, 'p.yaml', {});
  const issues = (body: string) => {
    try {
      load(body);
    } catch (e) {
      if (e instanceof PolicyError) return e.issues;
      throw e;
    }
    throw new Error('expected the policy to be refused');
  };

  it('default to [any] (today\'s behaviour) and keep the short iq form', () => {
    const p = load('        iq: { "vcard-temp": get }\n').policy.components['pubsub.example.org']!.privileges['example.org']!;
    expect(p).toMatchObject({ message_to: ['any'], iq: { 'vcard-temp': 'get' } });
  });

  it('read the long form with to defaulting to [any] and nodes absent', () => {
    const p = load(`        iq:\n          "${PUBSUB}": { type: set, to: [self], nodes: ["urn:xmpp:bookmarks:1"] }\n          "urn:xmpp:http:upload:0": { type: get }\n`).policy.components['pubsub.example.org']!.privileges['example.org']!;
    expect(p.iq).toEqual({
      [PUBSUB]: { type: 'set', to: ['self'], nodes: ['urn:xmpp:bookmarks:1'] },
      'urn:xmpp:http:upload:0': { type: 'get', to: ['any'] },
    });
  });

  it('refuse nodes outside the pubsub namespaces, naming the path', () => {
    const [i] = issues('        iq:\n          "vcard-temp": { type: get, nodes: ["x"] }\n');
    expect(i!.path).toBe('components.pubsub.example.org.privileges.example.org.iq.vcard-temp.nodes');
    expect(i!.message).toContain('nodes applies only to the pubsub namespaces');
  });

  it('refuse an entry that is no JID scope, and an unknown key in the long form', () => {
    const [a] = issues('        message_to: ["bob@example.org/phone"]\n');
    expect(a!.path).toBe('components.pubsub.example.org.privileges.example.org.message_to.0');
    expect(a!.message).toContain('is not a JID scope');
    const b = issues('        iq:\n          "vcard-temp": { type: get, too: [self] }\n');
    expect(b.map((x) => x.message).join(' ')).toMatch(/too|expected get, set or both/);
  });

  it('refuse an empty nodes list', () => {
    const [i] = issues(`        iq:\n          "${PUBSUB}": { type: set, nodes: [] }\n`);
    expect(i!.path).toBe(`components.pubsub.example.org.privileges.example.org.iq.${PUBSUB}.nodes`);
  });
});

describe('message_to: whom the component may write to as the user', () => {
  const policy = (scope: string) => `example.test:\n  message: outgoing\n  message_to: ${scope}`;

  it('[component]: to a JID under the component passes, to bob is forbidden with the rule in the text', () => {
    expect(decide(policy('[component]'), privMsg(`x@${C}`))).toMatchObject({ action: 'pass', audit: { action: 'message.outgoing', user: 'alice' } });
    const v = decide(policy('[component]'), privMsg('bob@example.test'));
    expect(v).toMatchObject({ action: 'reject', reason: 'out_of_scope', rule: { path: `${PATH}.message_to`, value: '["component"]' } });
    expect(errorText(v)).toBe(`privguard: privileged message not allowed: outside the scope the policy gives (to bob@example.test): ${PATH}.message_to = ["component"]`);
    expect(v.action === 'reject' && v.replies[0]!.stanza.getChild('error')!.getChild('forbidden')).toBeTruthy();
  });

  it('compares prepared JIDs: case does not widen or dodge a scope (a JID not in prepared form is refused outright)', () => {
    expect(decide(policy('[component]'), privMsg(`x@${C}`))).toMatchObject({ action: 'pass' });
    expect(decide(policy('["BOB@Example.Test"]'), privMsg('bob@example.test/phone'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('[component]'), privMsg(`X@PUBSUB.Example.TEST`))).toMatchObject({ reason: 'non_canonical_jid' });
    expect(decide(policy('["bob@example.test"]'), privMsg('BOB@Example.Test/phone'))).toMatchObject({ reason: 'non_canonical_jid' });
    expect(decide(policy('[component]'), privMsg(`x@${C}.evil.test`))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('self is the user the message is sent as; any is today\'s behaviour', () => {
    expect(decide(policy('[self]'), privMsg('alice@example.test/phone'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('[self]'), privMsg('alice@example.test', 'bob@example.test'))).toMatchObject({ reason: 'out_of_scope' });
    expect(decide('example.test:\n  message: outgoing', privMsg('anyone@else.test'))).toMatchObject({ action: 'pass' });
  });

  it('a domain and a glob', () => {
    expect(decide(policy('["conference.example.test"]'), privMsg('room@conference.example.test'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('["*@conference.example.test"]'), privMsg('room@conference.example.test'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('["*@conference.example.test"]'), privMsg('conference.example.test'))).toMatchObject({ reason: 'out_of_scope' });
  });
});

describe('iq.<ns>.to: where a privileged IQ may go', () => {
  const policy = (to: string) => `example.test:\n  iq:\n    "vcard-temp": { type: get, to: ${to} }\n    "urn:xmpp:http:upload:0": { type: get, to: ["upload.example.test"] }`;
  const vcard = `<vCard xmlns='vcard-temp'/>`;

  it('[self]: no inner "to" (the user\'s own account) and the user\'s own JID pass; another account is forbidden', () => {
    expect(decide(policy('[self]'), privIq('get', vcard))).toMatchObject({ action: 'pass' });
    expect(decide(policy('[self]'), privIq('get', vcard, 'alice@example.test'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('[self]'), privIq('get', vcard, 'Alice@example.test'))).toMatchObject({ reason: 'non_canonical_jid' });
    const v = decide(policy('[self]'), privIq('get', vcard, 'bob@example.test'));
    expect(v).toMatchObject({ action: 'reject', reason: 'out_of_scope', rule: { path: `${PATH}.iq.vcard-temp.to`, value: '["self"]' } });
    expect(errorText(v)).toContain('(to bob@example.test)');
  });

  it('a remote service is out of a [self] or [server] scope', () => {
    expect(decide(policy('[server]'), privIq('get', vcard, 'example.test'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('[server]'), privIq('get', vcard, 'remote.test'))).toMatchObject({ reason: 'out_of_scope' });
    expect(decide(policy('[server]'), privIq('get', vcard))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('a domain scope: the upload service and nothing else', () => {
    const slot = `<request xmlns='urn:xmpp:http:upload:0' filename='a.png' size='1'/>`;
    expect(decide(policy('[self]'), privIq('get', slot, 'upload.example.test'))).toMatchObject({ action: 'pass' });
    expect(decide(policy('[self]'), privIq('get', slot, 'upload.evil.test'))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('a malformed inner "to" is a bad request, not a pass', () => {
    expect(decide(policy('[any]'), privIq('get', vcard, 'a@@b'))).toMatchObject({ action: 'reject', reason: 'bad_structure' });
  });

  it('the short form keeps meaning any destination', () => {
    expect(decide('example.test:\n  iq: { "vcard-temp": get }', privIq('get', vcard, 'someone@remote.test'))).toMatchObject({ action: 'pass' });
  });
});

describe('iq.<pubsub>.nodes: which nodes a privileged pubsub IQ may name', () => {
  const policy = (nodes: string) => `example.test:\n  iq:\n    "${PUBSUB}": { type: both, to: [self], nodes: ${nodes} }\n    "${PUBSUB}#owner": { type: set, to: [self], nodes: ${nodes} }`;
  const BOOKMARKS = '["urn:xmpp:bookmarks:1", "urn:xmpp:avatar:*"]';

  it('publishing bookmarks passes; the OMEMO device lists are refused with the node named', () => {
    expect(decide(policy(BOOKMARKS), privIq('set', publish('urn:xmpp:bookmarks:1')))).toMatchObject({ action: 'pass' });
    for (const node of ['urn:xmpp:omemo:2:devices', 'eu.siacs.conversations.axolotl.devicelist', 'urn:xmpp:bookmarks:10']) {
      const v = decide(policy(BOOKMARKS), privIq('set', publish(node)));
      expect(v).toMatchObject({ action: 'reject', reason: 'out_of_scope', rule: { path: `${PATH}.iq.${PUBSUB}.nodes` } });
      expect(errorText(v)).toContain(`node "${node}"`);
    }
  });

  it('a glob reaches the nodes under it, and only those', () => {
    expect(decide(policy(BOOKMARKS), privIq('set', publish('urn:xmpp:avatar:metadata')))).toMatchObject({ action: 'pass' });
    expect(decide(policy(BOOKMARKS), privIq('set', publish('urn:xmpp:avatarx')))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('publish-options, configure and options belong to their sibling', () => {
    const opts = `<publish-options><x xmlns='jabber:x:data' type='submit'/></publish-options>`;
    expect(decide(policy(BOOKMARKS), privIq('set', publish('urn:xmpp:bookmarks:1', opts)))).toMatchObject({ action: 'pass' });
    expect(decide(policy(BOOKMARKS), privIq('set', `<pubsub xmlns='${PUBSUB}'>${opts}</pubsub>`))).toMatchObject({ reason: 'out_of_scope' });
    expect(decide(policy(BOOKMARKS), privIq('set', `<pubsub xmlns='${PUBSUB}'><create node='urn:xmpp:bookmarks:1'/><configure/></pubsub>`))).toMatchObject({
      action: 'pass',
    });
  });

  it('node-less operations that reach every node are refused unless nodes is ["*"]', () => {
    for (const payload of [
      `<pubsub xmlns='${PUBSUB}'><subscriptions/></pubsub>`,
      `<pubsub xmlns='${PUBSUB}'><affiliations/></pubsub>`,
      `<pubsub xmlns='${PUBSUB}'><create/></pubsub>`,
      `<pubsub xmlns='${PUBSUB}#owner'><affiliations/></pubsub>`,
    ]) {
      const type = payload.includes('create') || payload.includes('#owner') ? 'set' : 'get';
      const v = decide(policy(BOOKMARKS), privIq(type, payload));
      expect(v, payload).toMatchObject({ reason: 'out_of_scope' });
      expect(errorText(v)).toContain('without a node may reach any node');
      expect(decide(policy('["*"]'), privIq(type, payload)), payload).toMatchObject({ action: 'pass' });
    }
  });

  it('every child is judged, whatever its namespace (the server picks the operation by name)', () => {
    const sneaky = `<pubsub xmlns='${PUBSUB}'><publish node='urn:xmpp:bookmarks:1'/><publish xmlns='urn:other' node='urn:xmpp:omemo:2:devices'/></pubsub>`;
    expect(decide(policy(BOOKMARKS), privIq('set', sneaky))).toMatchObject({ reason: 'out_of_scope' });
    const first = `<pubsub xmlns='${PUBSUB}'><publish xmlns='urn:other' node='urn:xmpp:omemo:2:devices'/></pubsub>`;
    expect(decide(policy(BOOKMARKS), privIq('set', first))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('the owner namespace: deleting or purging another node is refused', () => {
    const del = (node: string) => `<pubsub xmlns='${PUBSUB}#owner'><delete node='${node}'/></pubsub>`;
    expect(decide(policy(BOOKMARKS), privIq('set', del('urn:xmpp:bookmarks:1')))).toMatchObject({ action: 'pass' });
    expect(decide(policy(BOOKMARKS), privIq('set', del('urn:xmpp:omemo:2:bundles')))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('the to scope is judged too: another user\'s PEP is out of [self]', () => {
    expect(decide(policy(BOOKMARKS), privIq('set', publish('urn:xmpp:bookmarks:1'), 'bob@example.test'))).toMatchObject({ reason: 'out_of_scope' });
  });

  it('names the rule in verdictText for explain', () => {
    const v = decide(policy(BOOKMARKS), privIq('set', publish('urn:xmpp:omemo:2:devices')));
    expect(verdictText(v)).toContain(`${PATH}.iq.${PUBSUB}.nodes = ["urn:xmpp:bookmarks:1","urn:xmpp:avatar:*"]`);
  });
});

describe('compileNodeScope', () => {
  it('literals, prefixes and inner wildcards', () => {
    const s = compileNodeScope(['a', 'urn:x:*', 'pre*post', 'lit.with.dots']);
    expect(['a', 'urn:x:', 'urn:x:y', 'prepost', 'pre-mid-post', 'lit.with.dots'].map((n) => s.matches(n))).toEqual([true, true, true, true, true, true]);
    expect(['A', 'urn:x', 'prepos', 'litXwith.dots', 'xa'].map((n) => s.matches(n))).toEqual([false, false, false, false, false]);
    expect(s.all).toBe(false);
    expect(compileNodeScope(['x', '*']).all).toBe(true);
  });

  it('10,000 literal and prefix patterns compile to look-ups', () => {
    const s = compileNodeScope(Array.from({ length: 10_000 }, (_, i) => (i % 2 ? `node-${i}` : `pre-${i}:*`)));
    expect(s.matches('node-9999')).toBe(true);
    expect(s.matches('pre-42:anything')).toBe(true);
    expect(s.matches('pre-43:anything')).toBe(false);
  });
});
