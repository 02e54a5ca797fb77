import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli.js';
import { runCli } from '../support/cli-main.js';

const run = runCli;

function tempPolicy(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-cli-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

describe('privguard check', () => {
  it('exits 0 and prints the grants table for config.example.yaml', async () => {
    const r = await run(['check', '-c', 'config.example.yaml']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('policy config.example.yaml: OK');
    expect(r.out).toMatch(/pubsub\.example\.org\s+example\.org\s+get\s+default\s+outgoing\s+managed_entity/);
    expect(r.out).toContain('urn:xmpp:mam:2[node]');
    // where secrets come from is shown, never their value
    expect(r.out).not.toContain('change-me');
  });

  it('exits 1 and prints every error with path and line:column', async () => {
    const file = tempPolicy('mode: strict\ncomponents:\n  c.example.org:\n    secret: s\n    upstream_secret: u\n    privileges:\n      example.org: { roster: read }\n');
    const r = await run(['check', '-c', file]);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toContain('the policy is invalid (2 errors)');
    expect(r.err).toContain(`${file}: mode (1:7): "strict" is not one of enforce, report`);
    expect(r.err).toContain(`${file}: components.c.example.org.privileges.example.org.roster (7:30): "read" is not one of none, get, set, both`);
  });

  it('prints the content scopes of every component and domain, defaults included', async () => {
    const file = tempPolicy(`components:
  gw.example.org:
    secret: s
    upstream_secret: u
    privileges:
      example.org:
        roster: both
        roster_items: [component]
        message: outgoing
        iq:
          "http://jabber.org/protocol/pubsub": { type: set, to: [self], nodes: ["urn:xmpp:bookmarks:1"] }
          "vcard-temp": get
`);
    const r = await run(['check', '-c', file]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('  gw.example.org on example.org:\n    roster_items [component]\n    message_to [any]\n');
    expect(r.out).toContain('    iq http://jabber.org/protocol/pubsub set: to [self], nodes [urn:xmpp:bookmarks:1]\n    iq vcard-temp get: to [any]');
  });

  it('exits 1 when the file cannot be read', async () => {
    const r = await run(['check', '-c', '/nonexistent.yaml']);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toContain('cannot read the policy file (ENOENT)');
  });
});

describe('privguard explain', () => {
  const policy = () =>
    tempPolicy(`components:
  pubsub.example.org:
    secret: s
    upstream_secret: u
    privileges:
      example.org: { roster: get, presence: none, except_users: [admin] }
`);
  const file = (xml: string) => {
    const f = join(mkdtempSync(join(tmpdir(), 'pg-ex-')), 'stanza.xml');
    writeFileSync(f, xml);
    return f;
  };

  it('prints the verdict, reason, rule and the answer privguard would send, for each stanza', async () => {
    const r = await run([
      'explain', '-c', policy(), '--component', 'PubSub.Example.org', '--to-server',
      file(`<?xml version='1.0'?>
<iq type='set' id='r1' from='pubsub.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>
<iq type='get' id='r2' from='pubsub.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>`),
    ]);
    expect(r.code).toBe(EXIT.ok);
    const [first, second] = r.out.trim().split('\n\n');
    expect(first).toContain('verdict: reject');
    expect(first).toContain('reason:  policy_denied');
    expect(first).toContain('rule:    components.pubsub.example.org.privileges.example.org.roster = get');
    expect(first).toContain('answers the component: <iq type="error" id="r1" from="alice@example.org"');
    expect(second).toContain('verdict: pass');
    expect(second).toContain('audit:   action=roster.get domain=example.org user=alice');
  });

  it('explains server → component stanzas, with the server\'s real advertisement', async () => {
    const adv = file(`<message from='example.org' to='pubsub.example.org'><privilege xmlns='urn:xmpp:privilege:2'><perm access='roster' type='both'/><perm access='presence' type='roster'/></privilege></message>`);
    const r = await run([
      'explain', '-c', policy(), '--component', 'pubsub.example.org', '--to-component', '--advertised', adv,
      file(`<presence from='alice@example.org/x' to='pubsub.example.org'/>`),
    ]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('verdict: drop');
    expect(r.out).toContain('rule:    components.pubsub.example.org.privileges.example.org.presence = none');
    expect(r.out).toContain('answers: nothing (dropped silently, audited)');
  });

  it('says when the server has not granted what the policy allows', async () => {
    const adv = file(`<message from='example.org' to='pubsub.example.org'><privilege xmlns='urn:xmpp:privilege:2'/></message>`);
    const r = await run([
      'explain', '-c', policy(), '--component', 'pubsub.example.org', '--to-server', '--advertised', adv,
      file(`<iq type='get' id='r2' from='pubsub.example.org' to='alice@example.org'><query xmlns='jabber:iq:roster'/></iq>`),
    ]);
    expect(r.out).toContain('reason:  server_denied');
  });

  it('explains delegated IQs, and replies against the request they answer (--pending)', async () => {
    const pol = tempPolicy(`components:
  pubsub.example.org:
    secret: s
    upstream_secret: u
    delegations:
      example.org: { "urn:xmpp:mam:2": { attributes: [node] } }
`);
    const request = file(
      `<iq to='pubsub.example.org' id='W1' type='set' from='example.org'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' from='alice@example.org/r' type='set' id='m1'><query xmlns='urn:xmpp:mam:2' node='n'/></iq></forwarded></delegation></iq>`,
    );
    const down = await run(['explain', '-c', pol, '--component', 'pubsub.example.org', '--to-component', request]);
    expect(down.out).toContain('verdict: pass');
    expect(down.out).toContain('audit:   action=delegation.forward domain=example.org user=alice namespace=urn:xmpp:mam:2');
    const badReply = file(
      `<iq type='result' id='W1' from='pubsub.example.org' to='example.org'><delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='other' to='alice@example.org/r'/></forwarded></delegation></iq>`,
    );
    const up = await run(['explain', '-c', pol, '--component', 'pubsub.example.org', '--to-server', '--pending', request, badReply]);
    expect(up.out).toContain('reason:  reply_mismatch');
    expect(up.out).toContain('text:    privguard: delegation reply does not match the request it answers (id)');
    expect(up.out).toContain('answers the server: <iq type="result" id="W1"');
  });

  it('needs exactly one direction, a known component and a readable stanza file', async () => {
    const s = file(`<message from='pubsub.example.org' to='a@example.org'/>`);
    expect((await run(['explain', '-c', policy(), '--component', 'pubsub.example.org', s])).code).toBe(EXIT.usage);
    const unknown = await run(['explain', '-c', policy(), '--component', 'nope.example.org', '--to-server', s]);
    expect(unknown.code).toBe(EXIT.failure);
    expect(unknown.err).toContain('nope.example.org is not a component');
    const bad = await run(['explain', '-c', policy(), '--component', 'pubsub.example.org', '--to-server', file('<a><b></a>')]);
    expect(bad.code).toBe(EXIT.failure);
    expect(bad.err).toContain('not-well-formed');
  });
});

describe('privguard explain: content scopes', () => {
  it('names the scope rule that decided', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ex-'));
    writeFileSync(join(dir, 'stanza.xml'), `<message from='gw.example.org' to='example.org' id='m1'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org' to='bob@example.org' id='i1'/></forwarded></privilege></message>`);
    const file = tempPolicy('components:\n  gw.example.org:\n    secret: s\n    upstream_secret: u\n    privileges:\n      example.org: { message: outgoing, message_to: [component, self] }\n');
    const r = await run(['explain', '-c', file, '--component', 'gw.example.org', '--to-server', join(dir, 'stanza.xml')]);
    expect(r.out).toContain('reason:  out_of_scope');
    expect(r.out).toContain('rule:    components.gw.example.org.privileges.example.org.message_to = ["component","self"]');
  });
});

describe('usage', () => {
  it('--help exits 0 and lists the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('check');
    expect(r.out).toContain('run');
  });

  it('check --help documents -c', async () => {
    const r = await run(['check', '--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('-c, --config <file>');
  });

  it('a missing argument or an unknown command exits 2', async () => {
    expect((await run(['explain', '-c', 'config.example.yaml', '--to-server'])).code).toBe(EXIT.usage);
    expect((await run(['frobnicate'])).code).toBe(EXIT.usage);
  });
});
