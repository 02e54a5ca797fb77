/**
 * The least-privilege example policies (examples/*.yaml): each loads, and
 * each narrows what its component may do the way its comments say.
 */
import { describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../src/config/load.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { decideOutbound } from '../../src/policy/outbound.js';
import { decideInbound } from '../../src/policy/inbound.js';
import { contextFor, stanza } from './policy/helpers.js';

const ENV = {
  SLIDGE_SECRET: 'a', SLIDGE_UPSTREAM_SECRET: 'b',
  LIBERVIA_PUBSUB_SECRET: 'c', LIBERVIA_PUBSUB_UPSTREAM_SECRET: 'd',
  SPECTRUM2_SECRET: 'e', SPECTRUM2_UPSTREAM_SECRET: 'f',
};
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const D = 'example.org';

function component(file: string, name: string) {
  return compilePolicy(loadPolicyFile(`examples/${file}`, ENV)).components.get(name)!;
}
const grant = (c: string) =>
  `<message from='${D}' to='${c}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'><namespace ns='${PUBSUB}' type='both'/></perm></privilege></message>`;
const privMsg = (c: string, to: string) =>
  `<message from='${c}' to='${D}' id='m'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@${D}' to='${to}' type='chat' id='i'/></forwarded></privilege></message>`;
const rosterSet = (c: string, jid: string) => `<iq type='set' id='r' from='${c}' to='alice@${D}'><query xmlns='jabber:iq:roster'><item jid='${jid}'/></query></iq>`;
const privIq = (c: string, type: string, payload: string, to?: string) =>
  `<iq from='${c}' to='alice@${D}' type='${type}' id='p'><privileged_iq xmlns='urn:xmpp:privilege:2'><iq xmlns='jabber:client' type='${type}' id='i'${to ? ` to='${to}'` : ''}>${payload}</iq></privileged_iq></iq>`;
const publish = (node: string) => `<pubsub xmlns='${PUBSUB}'><publish node='${node}'><item id='current'/></publish></pubsub>`;

describe('examples/slidge.yaml', () => {
  const C = 'whatsapp.example.org';
  const ctx = contextFor(component('slidge.yaml', C), grant(C));
  const out = (xml: string) => decideOutbound(ctx.out, stanza(xml)).action;

  it('adds puppets and reflects messages to them; nothing about bob', () => {
    expect(out(rosterSet(C, `+3361234@${C}`))).toBe('pass');
    expect(out(rosterSet(C, `bob@${D}`))).toBe('reject');
    expect(out(privMsg(C, `+3361234@${C}`))).toBe('pass');
    expect(out(privMsg(C, `bob@${D}`))).toBe('reject');
  });

  it('writes bookmarks and displayed markers on the user\'s PEP, never her OMEMO nodes or another account', () => {
    expect(out(privIq(C, 'set', publish('urn:xmpp:bookmarks:1')))).toBe('pass');
    expect(out(privIq(C, 'get', `<pubsub xmlns='${PUBSUB}'><items node='urn:xmpp:bookmarks:1'/></pubsub>`, `alice@${D}`))).toBe('pass');
    expect(out(privIq(C, 'set', `<pubsub xmlns='${PUBSUB}'><create node='urn:xmpp:mds:displayed:0'/></pubsub>`))).toBe('pass');
    expect(out(privIq(C, 'set', publish('urn:xmpp:omemo:2:devices')))).toBe('reject');
    expect(out(privIq(C, 'set', publish('eu.siacs.conversations.axolotl.devicelist')))).toBe('reject');
    expect(out(privIq(C, 'set', publish('urn:xmpp:bookmarks:1'), `bob@${D}`))).toBe('reject');
  });

  it('gets alice\'s roster with its puppets only', () => {
    const v = decideInbound(ctx.in, stanza(`<iq type='result' id='g' from='alice@${D}' to='${C}'><query xmlns='jabber:iq:roster'><item jid='bob@${D}'/><item jid='+1@${C}'/></query></iq>`));
    expect(v).toMatchObject({ action: 'filter', hidden: 1 });
  });
});

describe('examples/libervia-pubsub.yaml', () => {
  const C = 'pubsub.example.org';
  const ctx = contextFor(component('libervia-pubsub.yaml', C), grant(C));
  const out = (xml: string) => decideOutbound(ctx.out, stanza(xml)).action;

  it('reads rosters but never writes one; notifies contacts anywhere; subscribes remotely but reads nothing as the user', () => {
    expect(out(`<iq type='get' id='r' from='${C}' to='alice@${D}'><query xmlns='jabber:iq:roster'/></iq>`)).toBe('pass');
    expect(out(rosterSet(C, `x@${C}`))).toBe('reject');
    expect(out(privMsg(C, 'carol@remote.example'))).toBe('pass');
    expect(out(privIq(C, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='news' jid='alice@${D}'/></pubsub>`, 'pubsub.remote.example'))).toBe('pass');
    expect(out(privIq(C, 'get', `<pubsub xmlns='${PUBSUB}'><items node='urn:xmpp:bookmarks:1'/></pubsub>`))).toBe('reject');
  });
});

describe('examples/spectrum2.yaml', () => {
  const C = 'irc.example.org';
  const ctx = contextFor(component('spectrum2.yaml', C), grant(C));
  const out = (xml: string) => decideOutbound(ctx.out, stanza(xml)).action;

  it('manages its buddies in the roster and nothing else', () => {
    expect(out(rosterSet(C, `nick%irc.libera.chat@${C}`))).toBe('pass');
    expect(out(rosterSet(C, `bob@${D}`))).toBe('reject');
    expect(out(privMsg(C, `nick%irc.libera.chat@${C}`))).toBe('reject');
    expect(out(privIq(C, 'set', publish('urn:xmpp:bookmarks:1')))).toBe('reject');
  });
});
