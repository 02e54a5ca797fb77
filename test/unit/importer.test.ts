import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../src/config/load.js';
import { importEjabberd } from '../../src/importer/ejabberd.js';
import { parseLuaConfig } from '../../src/importer/lua.js';
import { importProsody } from '../../src/importer/prosody.js';
import { EXIT, main } from '../../src/cli.js';

/** The env placeholders the import writes, filled in. */
function load(yaml: string) {
  const env: NodeJS.ProcessEnv = {};
  for (const m of yaml.matchAll(/\{ env: ([A-Z0-9_]+) \}/g)) env[m[1]!] = `value of ${m[1]!}`; // all different: no secret is shared
  return loadPolicyText(yaml, 'imported.yaml', env).policy;
}

describe('privguard import prosody (the team\'s Prosody config)', () => {
  const yaml = importProsody('test/fixtures/servers/prosody.cfg.lua');
  const p = load(yaml);

  it('turns privileged_entities into per-domain privileges, iq namespaces included', () => {
    expect(p.components['pubsub.example.test']!.privileges['example.test']).toMatchObject({
      roster: 'both',
      message: 'outgoing',
      presence: 'roster',
      iq: { 'jabber:iq:private': 'both', 'vcard-temp': 'get', 'http://jabber.org/protocol/pubsub': 'set' },
    });
    expect(p.components['limited.example.test']!.privileges['example.test']).toMatchObject({ roster: 'get', message: 'none' });
  });

  it('leaves the content scopes at any, with a NOTE pointing at them', () => {
    expect(p.components['pubsub.example.test']!.privileges['example.test']).toMatchObject({ message_to: ['any'] });
    expect(yaml).toContain('# NOTE: the content scopes are left at any');
    expect(yaml).toContain('message_to, and iq "<ns>": { type, to, nodes }');
  });

  it('turns delegations into per-domain delegations with their filtering attributes', () => {
    expect(p.components['pubsub.example.test']!.delegations['example.test']).toEqual({
      'urn:xmpp:mam:2': { attributes: ['node'] },
      'http://jabber.org/protocol/pubsub': { attributes: [] },
    });
  });

  it('lists every Component section, with secret placeholders and never a secret', () => {
    expect(Object.keys(p.components).sort()).toEqual(['limited.example.test', 'plain.example.test', 'pubsub.example.test']);
    expect(yaml).not.toContain('s3cr3t');
    expect(yaml).toContain('upstream_secret: { env: PUBSUB_EXAMPLE_TEST_UPSTREAM_SECRET }');
  });

  it('says what it could not translate', () => {
    expect(yaml).toContain('# NOTE: component_ports (line 38) is an expression');
  });

  it('reads literal ports and flags components without the privilege module', () => {
    const out = importProsody(
      'inline.cfg.lua',
      `component_ports = { 15347 }
VirtualHost "d.example"
  privileged_entities = { ["c.d.example"] = { roster = "get"; presence = "everything" } }
Component "c.d.example"
  component_secret = "x"
`,
    );
    expect(out).toContain('upstream: { host: 127.0.0.1, port: 15347 }');
    expect(out).toContain('presence = "everything" is not a value privguard knows');
    expect(out).toContain('does not enable "privilege"');
  });
});

describe('privguard import ejabberd (the team\'s ejabberd config)', () => {
  const yaml = importEjabberd('test/fixtures/servers/ejabberd.yml');
  const p = load(yaml);

  it('resolves mod_privilege access rules through access_rules and acl to components', () => {
    expect(p.components['pubsub.example.test']!.privileges['example.test']).toMatchObject({ roster: 'both', message: 'outgoing', presence: 'roster' });
    expect(p.components['limited.example.test']!.privileges['example.test']).toMatchObject({ roster: 'get', message: 'none', presence: 'none' });
    expect(p.components['plain.example.test']!.privileges).toEqual({});
  });

  it('turns mod_delegation namespaces into delegations, and warns that ejabberd ignores filtering', () => {
    expect(p.components['pubsub.example.test']!.delegations['example.test']).toEqual({
      'urn:xmpp:mam:2': { attributes: ['node'] },
      'http://jabber.org/protocol/pubsub': { attributes: [] },
    });
    expect(yaml).toContain('ejabberd ignores "filtering" of urn:xmpp:mam:2');
  });

  it('says that one privguard per component is needed with one listener each', () => {
    expect(yaml).toContain('run one privguard per component');
    expect(p.upstream.port).toBe(25347);
  });
});

describe('the Lua subset', () => {
  it('reads tables, sections and keeps expressions opaque', () => {
    const st = parseLuaConfig(`-- c\nlocal x = 1\na = "s" .. x\nVirtualHost "h"\n  t = { ["k"] = { 1, 'two'; three = true }; }\n--[[ block\n]]\nComponent "c" "muc"\n  s = 'v'\n`);
    expect(st.map((s) => [s.section.kind, s.name, s.value.kind])).toEqual([
      ['global', 'x', 'number'],
      ['global', 'a', 'opaque'],
      ['VirtualHost', 't', 'table'],
      ['Component', 's', 'string'],
    ]);
  });
});

describe('the import command', () => {
  it('prints the policy, and refuses an unknown server or a missing file', async () => {
    let out = '';
    const io = { out: (s: string) => void (out += s), err: () => {} };
    process.exitCode = undefined;
    expect(await main(['import', 'prosody', 'test/fixtures/servers/prosody.cfg.lua'], io)).toBe(EXIT.ok);
    expect(out).toContain('pubsub.example.test:');
    process.exitCode = undefined;
    expect(await main(['import', 'openfire', 'x'], io)).toBe(EXIT.usage);
    process.exitCode = undefined;
    expect(await main(['import', 'ejabberd', '/nonexistent.yml'], io)).toBe(EXIT.failure);
    process.exitCode = undefined;
  });
});
