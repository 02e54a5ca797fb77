/**
 * What the link writes to the server for a judged component stanza: its
 * characters as they arrived (`raw`, offered by the parser) only when the
 * stanza goes on exactly as judged — passed, or let through in report mode —
 * and never when privguard changed it: translated into the server's namespace
 * versions (the component speaks another one), or rewritten (a delegation
 * reply). A raw forwarded after a translation would hand the server the
 * version privguard did not judge.
 */
import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { loadPolicyText } from '../../../src/config/load.js';
import { Link } from '../../../src/engine/link.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { StreamParser } from '../../../src/protocol/parser.js';
import { parseStanza, STREAM_HEADER } from '../../support/stanzas.js';

const C = 'pubsub.example.test';
const MAM = 'urn:xmpp:mam:2';

function policyText(speaks: string): string {
  return `components:
  ${C}:
    secret: s
    upstream_secret: u
    speaks: ${speaks}
    privileges:
      example.test: { iq: { "jabber:iq:private": both } }
    delegations:
      example.test: { "${MAM}": {} }
`;
}

const ADV = `<message from='example.test' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='iq'><namespace ns='jabber:iq:private' type='both'/></perm></privilege></message>`;
const DELEG = `<message from='example.test' to='${C}'><delegation xmlns='urn:xmpp:delegation:2'><delegated namespace='${MAM}'/></delegation></message>`;
const piq = (version: number, ns = 'jabber:iq:private') =>
  `<iq type='get' id='p1' from='${C}' to='alice@example.test'><privileged_iq xmlns='urn:xmpp:privilege:${version}'><iq xmlns='jabber:client' type='get' id='in1'><query xmlns='${ns}'/></iq></privileged_iq></iq>`;

/** The stanza and the characters the parser offers for it (the session hands both to the link). */
function parsed(xml: string): { el: Element; raw: string | undefined } {
  const out: { el: Element; raw: string | undefined }[] = [];
  const p = new StreamParser({ onHeader: () => {}, onStanza: (el, raw) => void out.push({ el, raw }), onEnd: () => {} }, { maxStanzaBytes: 1 << 16, maxDepth: 32 });
  expect(p.write(STREAM_HEADER + xml)).toBeUndefined();
  expect(out).toHaveLength(1);
  return out[0]!;
}

function link(speaks: string, mode: 'enforce' | 'report' = 'enforce', learn = true) {
  const toServer: string[] = [];
  const l = new Link({
    name: C,
    compiled: compilePolicy(loadPolicyText(policyText(speaks), 'p.yaml', {})).components.get(C)!,
    mode,
    pendingTimeoutMs: 1000,
    maxPending: 10,
    now: () => 0,
    effects: { toComponent: () => {}, toServer: (xml) => void toServer.push(xml), closeStreams: () => {}, decision: () => {}, log: () => {} },
  });
  if (learn) {
    l.fromServer(parseStanza(ADV));
    l.fromServer(parseStanza(DELEG));
  }
  return { l, toServer };
}

describe('link: the characters written to the server for a judged component stanza', () => {
  it('a privileged IQ that passes untouched goes on as it arrived', () => {
    const { l, toServer } = link('{ privilege: auto, delegation: auto }');
    const s = parsed(piq(2));
    expect(s.raw).toBe(piq(2));
    l.fromComponent(s.el, s.raw);
    expect(toServer).toEqual([piq(2)]);
  });

  it('translated into the server’s version, it goes on as privguard wrote it, never as it arrived', () => {
    const { l, toServer } = link('{ privilege: 1, delegation: auto }');
    const s = parsed(piq(1));
    expect(s.raw).toBe(piq(1));
    l.fromComponent(s.el, s.raw);
    expect(toServer).toHaveLength(1);
    expect(toServer[0]).toContain('urn:xmpp:privilege:2');
    expect(toServer[0]).not.toContain('urn:xmpp:privilege:1');
  });

  it('in report mode a would-deny goes on as it arrived (nothing changed it); in enforce mode it does not go on', () => {
    const denied = piq(2, 'jabber:iq:roster');
    const report = link('{ privilege: auto, delegation: auto }', 'report');
    const s = parsed(denied);
    report.l.fromComponent(s.el, s.raw);
    expect(report.toServer).toEqual([denied]);
    const enforce = link('{ privilege: auto, delegation: auto }');
    const t = parsed(denied);
    enforce.l.fromComponent(t.el, t.raw);
    expect(enforce.toServer).toEqual([]);
  });

  it('a delegation reply is rewritten and written as privguard rewrote it', () => {
    const { l, toServer } = link('{ privilege: auto, delegation: auto }');
    l.fromServer(
      parseStanza(
        `<iq to='${C}' id='d1' type='set' from='example.test'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='alice@example.test/r' to='example.test' type='set' id='u1'><query xmlns='${MAM}'/></iq></forwarded></delegation></iq>`,
      ),
    );
    const reply = `<iq to='example.test' id='d1' type='result' from='${C}'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='example.test' to='alice@example.test/r' type='result' id='u1'/></forwarded></delegation></iq>`;
    const s = parsed(reply);
    expect(s.raw).toBe(reply);
    l.fromComponent(s.el, s.raw);
    expect(toServer).toHaveLength(1);
    expect(toServer[0]).not.toBe(reply);
  });
});
