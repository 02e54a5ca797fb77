import { describe, expect, it } from 'vitest';
import { checkAddressing, checkComponentElement } from '../../../src/policy/addressing.js';
import { classifyTopLevel } from '../../../src/protocol/classify.js';
import { parseStanza } from '../../support/stanzas.js';

const stanza = parseStanza;

const C = 'pubsub.example.org';

describe('checkAddressing (XEP-0114 §3)', () => {
  it.each([
    `<message from='pubsub.example.org' to='alice@example.org'/>`,
    `<message from='bot@pubsub.example.org/res' to='example.org'/>`,
    `<iq from='PubSub.Example.ORG' to='alice@example.org' type='get' id='1'/>`,
    `<presence from='pubsub.example.org/x' to='alice@example.org'/>`,
  ])('passes %s', (xml) => {
    expect(checkAddressing(C, stanza(xml))).toMatchObject({ action: 'pass', reason: 'ok', rule: null });
  });

  it.each([
    [`<message to='alice@example.org'/>`, 'invalid_from', 'invalid-from'],
    [`<message from='alice@example.org' to='bob@example.org'/>`, 'invalid_from', 'invalid-from'],
    [`<message from='example.org' to='bob@example.org'/>`, 'invalid_from', 'invalid-from'],
    [`<message from='evil.pubsub.example.org' to='bob@example.org'/>`, 'invalid_from', 'invalid-from'],
    [`<message from='@pubsub.example.org' to='bob@example.org'/>`, 'invalid_from', 'invalid-from'],
    [`<message from='pubsub.example.org'/>`, 'missing_to', 'improper-addressing'],
    [`<message from='pubsub.example.org' to='a b@example.org'/>`, 'malformed_to', 'improper-addressing'],
  ])('rejects %s (%s)', (xml, reason, condition) => {
    const v = checkAddressing(C, stanza(xml));
    expect(v.action).toBe('reject');
    if (v.action !== 'reject') return;
    expect(v.reason).toBe(reason);
    expect(v.streamError?.condition).toBe(condition);
    expect(v.streamError?.text).toMatch(/^privguard: /);
  });
});

describe('classifyTopLevel', () => {
  it('knows stanzas, handshakes and stream errors by resolved namespace', () => {
    expect(classifyTopLevel(stanza(`<iq type='get' id='1'/>`))).toEqual({ kind: 'stanza', name: 'iq' });
    expect(classifyTopLevel(stanza(`<handshake>x</handshake>`))).toEqual({ kind: 'handshake' });
    expect(classifyTopLevel(stanza(`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`))).toEqual({
      kind: 'stream-error',
      condition: 'conflict',
      text: undefined,
    });
  });

  it('does not take a jabber:client message or an unknown element for a stanza', () => {
    expect(classifyTopLevel(stanza(`<message xmlns='jabber:client' to='a@b'/>`))).toMatchObject({ kind: 'other', ns: 'jabber:client' });
    expect(classifyTopLevel(stanza(`<foo/>`))).toMatchObject({ kind: 'other', name: 'foo' });
    expect(classifyTopLevel(stanza(`<x:message xmlns:x='urn:evil'/>`))).toMatchObject({ kind: 'other', ns: 'urn:evil' });
  });
});

describe('checkComponentElement (DESIGN.md threat model 3)', () => {
  it.each([`<foo from='pubsub.example.org' to='a@example.org'/>`, `<handshake>x</handshake>`, `<message xmlns='jabber:client' from='pubsub.example.org' to='a@example.org'/>`])(
    'refuses %s as unsupported-stanza-type',
    (xml) => {
      const el = stanza(xml);
      const v = checkComponentElement(C, classifyTopLevel(el), el);
      expect(v).toMatchObject({ action: 'reject', reason: 'unsupported_stanza_type', streamError: { condition: 'unsupported-stanza-type' } });
    },
  );

  it('applies the addressing rules to stanzas', () => {
    const el = stanza(`<iq from='alice@example.org' to='example.org' type='get' id='1'/>`);
    expect(checkComponentElement(C, classifyTopLevel(el), el)).toMatchObject({ reason: 'invalid_from' });
  });
});
