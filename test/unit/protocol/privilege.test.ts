import { describe, expect, it } from 'vitest';
import { buildAdvertisement, parseAdvertisement } from '../../../src/protocol/privilege.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { received } from '../../fixtures/recordings.js';
import { stanza, stanzas } from '../policy/helpers.js';

const rw = (get: boolean, set: boolean) => ({ get, set });

function advertisementIn(server: 'prosody' | 'ejabberd', recording: string, conn = 'pubsub') {
  const data = received(server, recording, conn).replace(/^<\?xml[^>]*\?>/, '').replace(/^<stream:stream[^>]*>/, '');
  const all = stanzas(data);
  return all.find((s) => s.name === 'message' && s.children.some((c) => typeof c !== 'string' && c.name === 'privilege'))!;
}

describe('parseAdvertisement', () => {
  it('reads Prosody 0.12\'s nested iq namespaces (recordings/prosody/component-connect)', () => {
    const adv = parseAdvertisement(advertisementIn('prosody', 'component-connect'))!;
    expect(adv.version).toBe(2);
    expect(adv.grant.roster).toEqual(rw(true, true));
    expect(adv.grant.push).toBeUndefined();
    expect(adv.grant.message).toBe('outgoing');
    expect(adv.grant.presence).toBe('roster');
    expect(Object.fromEntries(adv.grant.iq)).toEqual({
      'jabber:iq:private': rw(true, true),
      'vcard-temp': rw(true, false),
      'http://jabber.org/protocol/pubsub': rw(false, true),
    });
  });

  it('reads ejabberd 23.01\'s privilege:1 advertisement (recordings/ejabberd/component-connect)', () => {
    const adv = parseAdvertisement(advertisementIn('ejabberd', 'component-connect'))!;
    expect(adv.version).toBe(1);
    expect(adv.grant.roster).toEqual(rw(true, true));
    expect(adv.grant.message).toBe('outgoing');
    expect(adv.grant.presence).toBe('roster');
    expect(adv.grant.iq.size).toBe(0);
  });

  it('reads a limited grant with the missing perms as none (recordings/prosody/component-connect-limited)', () => {
    const adv = parseAdvertisement(advertisementIn('prosody', 'component-connect-limited', 'limited'))!;
    expect(adv.grant).toMatchObject({ roster: rw(true, false), message: 'none', presence: 'none' });
  });

  it('keeps the most restrictive reading of repeated perms and unknown values', () => {
    const adv = parseAdvertisement(
      stanza(`<message from='d'><privilege xmlns='urn:xmpp:privilege:2'>
        <perm access='roster' type='both'/><perm access='roster' type='get'/>
        <perm access='message' type='everything'/>
        <perm access='presence' type='roster'/><perm access='presence' type='managed_entity'/>
        <perm access='iq'><namespace ns='a' type='both'/><namespace ns='a' type='set'/><namespace ns='b' type='none'/><namespace ns='c'/></perm>
      </privilege></message>`),
    )!;
    expect(adv.grant.roster).toEqual(rw(true, false));
    expect(adv.grant.message).toBe('none');
    expect(adv.grant.presence).toBe('managed_entity');
    expect(Object.fromEntries(adv.grant.iq)).toEqual({ a: rw(false, true) });
  });

  it('reads presence roster without roster read as managed_entity (XEP-0356 §7.4)', () => {
    const adv = parseAdvertisement(stanza(`<message from='d'><privilege xmlns='urn:xmpp:privilege:2'><perm access='presence' type='roster'/></privilege></message>`))!;
    expect(adv.grant.presence).toBe('managed_entity');
  });

  it('resolves a prefixed privilege element', () => {
    const adv = parseAdvertisement(stanza(`<message from='d'><p:privilege xmlns:p='urn:xmpp:privilege:2'><p:perm access='message' type='outgoing'/></p:privilege></message>`))!;
    expect(adv.grant.message).toBe('outgoing');
  });

  it('records which perms the server wrote (Prosody leaves out presence it does not grant)', () => {
    const adv = parseAdvertisement(
      stanza(`<message from='d'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='message' type='outgoing'/></privilege></message>`),
    )!;
    expect(adv.grant.stated).toEqual({ roster: true, message: true, presence: false });
    expect(adv.grant.presence).toBe('none');
  });

  it('ignores a look-alike in another namespace', () => {
    expect(parseAdvertisement(stanza(`<message from='d'><privilege xmlns='urn:evil'><perm access='roster' type='both'/></privilege></message>`))).toBeUndefined();
  });
});

describe('buildAdvertisement', () => {
  const rights = { roster: rw(true, false), push: true, message: 'outgoing' as const, presence: 'none' as const, iq: new Map([['z', rw(true, true)], ['a', rw(false, true)]]) };

  it('lists every perm explicitly, push included, iq namespaces as sorted siblings (:2)', () => {
    expect(serialize(buildAdvertisement('example.test', 'c.example.test', rights, 2, 'x1'))).toBe(
      '<message from="example.test" to="c.example.test" id="x1"><privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="get" push="true"/><perm access="message" type="outgoing"/><perm access="presence" type="none"/><perm access="iq"><namespace ns="a" type="set"/><namespace ns="z" type="both"/></perm></privilege></message>',
    );
  });

  it('has no push and no iq on :1', () => {
    expect(serialize(buildAdvertisement('example.test', 'c.example.test', rights, 1))).toBe(
      '<message from="example.test" to="c.example.test"><privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="get"/><perm access="message" type="outgoing"/><perm access="presence" type="none"/></privilege></message>',
    );
  });

  it('round-trips through the parser', () => {
    const adv = parseAdvertisement(stanza(serialize(buildAdvertisement('d', 'c', rights, 2))))!;
    expect(adv.grant).toEqual({
      ...rights,
      iq: new Map([['a', rw(false, true)], ['z', rw(true, true)]]),
      stated: { roster: true, message: true, presence: true },
    });
  });

  it('leaves out a perm the server left out when it grants nothing, and keeps one the server stated', () => {
    const quiet = { ...rights, roster: rw(false, false), message: 'none' as const, iq: new Map() };
    expect(serialize(buildAdvertisement('d', 'c', { ...quiet, stated: { roster: false, message: true, presence: false } }, 2))).toBe(
      '<message from="d" to="c"><privilege xmlns="urn:xmpp:privilege:2"><perm access="message" type="none"/></privilege></message>',
    );
    // A granted perm is written whatever `stated` says.
    expect(serialize(buildAdvertisement('d', 'c', { ...rights, stated: { roster: false, message: false, presence: false } }, 1))).toBe(
      '<message from="d" to="c"><privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="get"/><perm access="message" type="outgoing"/></privilege></message>',
    );
  });
});
