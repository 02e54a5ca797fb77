import { describe, expect, it } from 'vitest';
import { changesFromServer, changesToServer, SubscriptionLedger } from '../../../src/policy/subscriptions.js';
import { stanza } from './helpers.js';

const managed = (d: string) => d === 'example.test';
const fromServer = (xml: string) => changesFromServer(stanza(xml), managed);
const toServer = (xml: string) => changesToServer(stanza(xml));

describe('what privguard learns of subscriptions', () => {
  it('from a user approving a JID of the component, and from her cancelling it', () => {
    expect(fromServer(`<presence type='subscribed' from='Alice@example.test' to='gw.example.test'/>`)).toEqual([
      { op: 'add', user: 'alice@example.test', contact: 'gw.example.test' },
    ]);
    expect(fromServer(`<presence type='unsubscribed' from='alice@example.test/phone' to='x@gw.example.test/r'/>`)).toEqual([
      { op: 'remove', user: 'alice@example.test', contact: 'x@gw.example.test' },
    ]);
    expect(fromServer(`<presence type='subscribe' from='alice@example.test' to='gw.example.test'/>`)).toEqual([]);
    expect(fromServer(`<presence from='alice@example.test' to='gw.example.test'/>`)).toEqual([]);
    expect(fromServer(`<presence type='subscribed' from='example.test' to='gw.example.test'/>`)).toEqual([]);
  });

  it('from a roster result (the whole roster) and a roster push of a managed user', () => {
    expect(
      fromServer(
        `<iq type='result' id='r' from='alice@example.test' to='gw.example.test'><query xmlns='jabber:iq:roster'><item jid='gw.example.test' subscription='both'/><item jid='bob@example.test' subscription='to'/><item jid='x@gw.example.test' subscription='from'/><item jid='y@gw.example.test/r' subscription='from'/></query></iq>`,
      ),
    ).toEqual([
      { op: 'reset', user: 'alice@example.test' },
      { op: 'add', user: 'alice@example.test', contact: 'gw.example.test' },
      { op: 'add', user: 'alice@example.test', contact: 'x@gw.example.test' },
    ]);
    expect(
      fromServer(`<iq type='set' id='p' from='alice@example.test' to='gw.example.test'><query xmlns='jabber:iq:roster'><item jid='gw.example.test' subscription='remove'/></query></iq>`),
    ).toEqual([{ op: 'remove', user: 'alice@example.test', contact: 'gw.example.test' }]);
  });

  it('not from roster IQs of full JIDs, unmanaged domains, or results without a roster', () => {
    const items = `<query xmlns='jabber:iq:roster'><item jid='gw.example.test' subscription='both'/></query>`;
    expect(fromServer(`<iq type='result' id='r' from='alice@example.test/res' to='gw.example.test'>${items}</iq>`)).toEqual([]);
    expect(fromServer(`<iq type='result' id='r' from='mallory@evil.test' to='gw.example.test'>${items}</iq>`)).toEqual([]);
    expect(fromServer(`<iq type='result' id='r' from='alice@example.test' to='gw.example.test'/>`)).toEqual([]);
    expect(fromServer(`<iq type='get' id='r' from='alice@example.test' to='gw.example.test'>${items}</iq>`)).toEqual([]);
  });

  it('from roster sets and unsubscribes the component sends', () => {
    expect(
      toServer(
        `<iq type='set' id='s' from='gw.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'><item jid='gw.example.test' subscription='both'/><item jid='p@gw.example.test' subscription='none'/><item jid='q@gw.example.test'/><item jid='r@gw.example.test' subscription='bogus'/></query></iq>`,
      ),
    ).toEqual([
      { op: 'add', user: 'alice@example.test', contact: 'gw.example.test' },
      { op: 'remove', user: 'alice@example.test', contact: 'p@gw.example.test' },
    ]);
    expect(toServer(`<presence type='unsubscribe' from='x@gw.example.test/r' to='alice@example.test'/>`)).toEqual([
      { op: 'remove', user: 'alice@example.test', contact: 'x@gw.example.test' },
    ]);
    expect(toServer(`<presence type='subscribed' from='x@gw.example.test' to='alice@example.test'/>`)).toEqual([]);
    expect(toServer(`<iq type='get' id='g' from='gw.example.test' to='alice@example.test'><query xmlns='jabber:iq:roster'/></iq>`)).toEqual([]);
  });
});

describe('SubscriptionLedger', () => {
  it('adds, removes and resets', () => {
    const l = new SubscriptionLedger();
    l.apply([
      { op: 'add', user: 'a@d', contact: 'c' },
      { op: 'add', user: 'a@d', contact: 'c' },
      { op: 'add', user: 'a@d', contact: 'x@c' },
      { op: 'add', user: 'b@d', contact: 'c' },
    ]);
    expect(l.size).toBe(3);
    expect(l.approved('a@d', 'c')).toBe(true);
    l.apply([{ op: 'remove', user: 'a@d', contact: 'c' }]);
    expect([l.approved('a@d', 'c'), l.approved('a@d', 'x@c'), l.size]).toEqual([false, true, 2]);
    l.apply([{ op: 'reset', user: 'a@d' }]);
    expect([l.approved('a@d', 'x@c'), l.approved('b@d', 'c'), l.size]).toEqual([false, true, 1]);
  });

  it('is bounded: the users seen longest ago are forgotten first', () => {
    const l = new SubscriptionLedger(3);
    for (const u of ['u1', 'u2', 'u3', 'u4']) l.apply([{ op: 'add', user: u, contact: 'c' }]);
    expect(l.size).toBe(3);
    expect(['u1', 'u2', 'u3', 'u4'].map((u) => l.approved(u, 'c'))).toEqual([false, true, true, true]);
    // One user filling it alone cannot grow past the bound.
    const one = new SubscriptionLedger(2);
    one.apply([1, 2, 3].map((i) => ({ op: 'add' as const, user: 'u', contact: `c${i}` })));
    expect(one.size).toBe(2);
  });
});
