import { describe, expect, it } from 'vitest';
import { effectiveGrant } from '../../../src/policy/grants.js';
import { buildAdvertisement, type Advertisement } from '../../../src/protocol/privilege.js';
import { serialize } from '../../../src/protocol/serialize.js';
import { compiled } from './helpers.js';

const rw = (get: boolean, set: boolean) => ({ get, set });
const adv = (g: Partial<Advertisement['grant']>, version: 1 | 2 = 2): Advertisement => ({
  version,
  grant: { roster: rw(false, false), push: undefined, message: 'none', presence: 'none', iq: new Map(), ...g },
});

describe('effectiveGrant = server ∩ policy', () => {
  it('intersects roster, message, presence and iq', () => {
    const p = compiled('example.test: { roster: get, message: outgoing, presence: roster, iq: { a: both, b: get } }').privileges.get('example.test');
    const { grant } = effectiveGrant('example.test', adv({ roster: rw(true, true), message: 'outgoing', presence: 'managed_entity', iq: new Map([['a', rw(false, true)], ['c', rw(true, true)]]) }), p);
    expect(grant).toMatchObject({ roster: rw(true, false), message: 'outgoing', presence: 'managed_entity', push: true });
    expect(Object.fromEntries(grant.iq)).toEqual({ a: rw(false, true) });
  });

  it('gives nothing for a domain the policy does not name', () => {
    const { grant } = effectiveGrant('x.test', adv({ roster: rw(true, true), message: 'outgoing', presence: 'roster' }), undefined);
    expect(grant).toMatchObject({ roster: rw(false, false), message: 'none', presence: 'none', push: false });
  });

  it('push needs the server\'s push (explicit or default), the policy\'s, and roster read', () => {
    const on = compiled('example.test: { roster: get }').privileges.get('example.test');
    const off = compiled('example.test: { roster: get, roster_push: false }').privileges.get('example.test');
    expect(effectiveGrant('e', adv({ roster: rw(true, false) }), on).grant.push).toBe(true);
    expect(effectiveGrant('e', adv({ roster: rw(true, false), push: false }), on).grant.push).toBe(false);
    expect(effectiveGrant('e', adv({ roster: rw(true, false) }), off).grant.push).toBe(false);
    expect(effectiveGrant('e', adv({ roster: rw(false, true), push: true }), on).grant.push).toBe(false);
  });

  // XEP-0356 §4.1: push may be omitted and then defaults to true with get/both. Neither server writes
  // it or sends pushes, so privguard must not turn the server's silence into an explicit promise.
  it('writes push only where the server wrote it or where privguard turns it off', () => {
    const on = compiled('example.test: { roster: both }').privileges.get('example.test');
    const off = compiled('example.test: { roster: both, roster_push: false }').privileges.get('example.test');
    const getOnly = compiled('example.test: { roster: set }').privileges.get('example.test');
    const rosterPerm = (a: Advertisement, p: typeof on) => /<perm access="roster"[^>]*\/>/.exec(serialize(buildAdvertisement('e', 'c', effectiveGrant('e', a, p).grant, 2)))![0];
    expect(rosterPerm(adv({ roster: rw(true, true) }), on)).toBe('<perm access="roster" type="both"/>');
    expect(rosterPerm(adv({ roster: rw(true, true), push: true }), on)).toBe('<perm access="roster" type="both" push="true"/>');
    expect(rosterPerm(adv({ roster: rw(true, true), push: false }), on)).toBe('<perm access="roster" type="both" push="false"/>');
    expect(rosterPerm(adv({ roster: rw(true, true) }), off)).toBe('<perm access="roster" type="both" push="false"/>');
    // narrowed to set: the default for set is no push, so nothing needs saying
    expect(rosterPerm(adv({ roster: rw(true, true) }), getOnly)).toBe('<perm access="roster" type="set"/>');
  });

  it('presence roster falls back to managed_entity when roster read is not effective', () => {
    const p = compiled('example.test: { roster: get, presence: roster }').privileges.get('example.test');
    expect(effectiveGrant('e', adv({ roster: rw(false, true), presence: 'roster' }), p).grant.presence).toBe('managed_entity');
  });
});
