import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { detectVersions, translate } from '../../../src/protocol/translate.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { stanza } from '../policy/helpers.js';

const t = (xml: string, from: object, to: object) => serialize(translate(stanza(xml), from, to));

describe('translate: privilege', () => {
  const adv2 = `<message from='example.test' to='c'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both' push='true'/><perm access='message' type='outgoing'/><perm access='presence' type='roster'/><perm access='iq'><namespace ns='a' type='get'/></perm></privilege></message>`;

  it('an advertisement :2 → :1 loses push and the iq permission', () => {
    expect(t(adv2, { privilege: 2 }, { privilege: 1 })).toBe(
      '<message from="example.test" to="c"><privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="both"/><perm access="message" type="outgoing"/><perm access="presence" type="roster"/></privilege></message>',
    );
  });

  it('an advertisement :1 → :2 says push="false" (a :1 server never pushes)', () => {
    expect(t(`<message from='example.test' to='c'><privilege xmlns='urn:xmpp:privilege:1'><perm access='roster' type='get'/></privilege></message>`, { privilege: 1 }, { privilege: 2 })).toBe(
      '<message from="example.test" to="c"><privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="get" push="false"/></privilege></message>',
    );
  });

  it('a privileged message wrapper both ways, the forwarded stanza untouched', () => {
    const pm = (v: number) =>
      `<message from='c' to='example.test'><privilege xmlns='urn:xmpp:privilege:${v}'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.test' to='bob@example.test'><body>urn:xmpp:privilege:${v}</body></message></forwarded></privilege></message>`;
    expect(t(pm(2), { privilege: 2 }, { privilege: 1 })).toBe(serialize(stanza(pm(2))).replace('xmlns="urn:xmpp:privilege:2"', 'xmlns="urn:xmpp:privilege:1"'));
    expect(t(pm(1), { privilege: 1 }, { privilege: 2 })).toContain('<privilege xmlns="urn:xmpp:privilege:2">');
  });

  it('a privileged IQ response wrapper', () => {
    expect(t(`<iq type='result' id='x' from='alice@example.test' to='c'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'/></privilege></iq>`, { privilege: 2 }, { privilege: 1 })).toContain(
      'xmlns="urn:xmpp:privilege:1"',
    );
  });

  it('leaves everything alone when the versions agree or one is unknown', () => {
    expect(t(adv2, { privilege: 2 }, { privilege: 2 })).toBe(serialize(stanza(adv2)));
    expect(t(adv2, { privilege: 2 }, {})).toBe(serialize(stanza(adv2)));
  });
});

describe('translate: delegation', () => {
  it('advertisements, including the special namespaces', () => {
    expect(
      t(
        `<message from='example.test' to='c'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='urn:xmpp:mam:2'><attribute name='node'/></delegated><delegated namespace='urn:xmpp:delegation:2:bare:disco#info:*'/></delegation></message>`,
        { delegation: 2 },
        { delegation: 1 },
      ),
    ).toBe(
      '<message from="example.test" to="c"><delegation xmlns="urn:xmpp:delegation:1"><delegated namespace="urn:xmpp:mam:2"><attribute name="node"/></delegated><delegated namespace="urn:xmpp:delegation:1:bare:disco#info:*"/></delegation></message>',
    );
  });

  it('the delegated IQ wrapper, the user\'s IQ untouched', () => {
    const out = t(
      `<iq type='set' id='W' from='example.test' to='c'><delegation xmlns='urn:xmpp:delegation:1'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='get' id='u'><query xmlns='urn:xmpp:mam:2'/></iq></forwarded></delegation></iq>`,
      { delegation: 1 },
      { delegation: 2 },
    );
    expect(out).toContain('<delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0"><iq type="get" id="u" xmlns="jabber:client"><query xmlns="urn:xmpp:mam:2"/>');
  });

  it.each([
    ['::', 'urn:xmpp:delegation:1::http://jabber.org/protocol/pubsub', 'urn:xmpp:delegation:2::http://jabber.org/protocol/pubsub'],
    [':bare:', 'urn:xmpp:delegation:1:bare:urn:xmpp:mam:2', 'urn:xmpp:delegation:2:bare:urn:xmpp:mam:2'],
  ])('the disco nesting node (%s), in queries and results', (_w, node1, node2) => {
    const q = (node: string, type: string) => `<iq type='${type}' id='Q' from='example.test' to='c'><query xmlns='http://jabber.org/protocol/disco#info' node='${node}'/></iq>`;
    expect(t(q(node1, 'get'), { delegation: 1 }, { delegation: 2 })).toContain(`node="${node2}"`);
    expect(t(q(node2, 'result'), { delegation: 2 }, { delegation: 1 })).toContain(`node="${node1}"`);
  });

  it('leaves other disco nodes alone', () => {
    expect(t(`<iq type='get' id='Q' to='c' from='x'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:xmpp:microblog:0'/></iq>`, { delegation: 1 }, { delegation: 2 })).toContain(
      'node="urn:xmpp:microblog:0"',
    );
  });
});

describe('round trip :2 → :1 → :2 of anything expressible in :1', () => {
  it('is the identity', () => {
    const perm = fc.record({ access: fc.constantFrom('roster', 'message', 'presence'), type: fc.constantFrom('none', 'get', 'set', 'both', 'outgoing', 'managed_entity', 'roster') });
    const shapes = fc.oneof(
      fc.array(perm, { maxLength: 4 }).map((ps) => `<message from='d' to='c'><privilege xmlns='urn:xmpp:privilege:2'>${ps.map((p) => `<perm access='${p.access}' type='${p.type}'/>`).join('')}</privilege></message>`),
      fc.constantFrom('urn:xmpp:mam:2', 'http://jabber.org/protocol/pubsub').map((ns) => `<message from='d' to='c'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${ns}'/></delegation></message>`),
      fc.constantFrom('::', ':bare:').map((sep) => `<iq type='get' id='q' from='d' to='c'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:xmpp:delegation:2${sep}urn:x'/></iq>`),
      fc.constant(`<message from='c' to='d'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='u@d' to='v@d'/></forwarded></privilege></message>`),
    );
    fc.assert(
      fc.property(shapes, (xml) => {
        const original = serialize(stanza(xml));
        const there = translate(stanza(xml), { privilege: 2, delegation: 2 }, { privilege: 1, delegation: 1 });
        const back = translate(stanza(serialize(there)), { privilege: 1, delegation: 1 }, { privilege: 2, delegation: 2 });
        // privilege:1 → :2 adds push="false" to a roster perm (a :1 server has no pushes); nothing else changes
        expect(serialize(back).replace(/ push="false"/g, '')).toBe(original);
      }),
      { numRuns: 500 },
    );
  });
});

describe('detectVersions', () => {
  it('reads the versions a server domain speaks, never from a user', () => {
    expect(detectVersions(stanza(`<message from='example.test' to='c'><privilege xmlns='urn:xmpp:privilege:1'/></message>`))).toEqual({ domain: 'example.test', versions: { privilege: 1 } });
    expect(detectVersions(stanza(`<iq type='get' id='q' from='example.test' to='c'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:xmpp:delegation:1::x'/></iq>`))).toEqual({
      domain: 'example.test',
      versions: { delegation: 1 },
    });
    expect(detectVersions(stanza(`<message from='alice@example.test/r' to='c'><privilege xmlns='urn:xmpp:privilege:1'/></message>`))).toBeUndefined();
    expect(detectVersions(stanza(`<message from='example.test' to='c'><body/></message>`))).toBeUndefined();
  });
});
