/**
 * `privguard import prosody`: reads privileged_entities and delegations
 * (prosody-modules mod_privilege / mod_delegation) from a Prosody config and
 * the Component sections, and writes the equivalent policy.
 */
import { readFileSync } from 'node:fs';
import { IQ_ACCESS, MESSAGE_ACCESS, PRESENCE_ACCESS, ROSTER_ACCESS } from '../protocol/privilege.js';
import { parseLuaConfig, tableMap, tableStrings, type LuaValue } from './lua.js';
import { writePolicy, type ImportedComponent, type ImportedPolicy } from './policy-writer.js';

function str(v: LuaValue | undefined): string | undefined {
  return v?.kind === 'string' ? v.value : undefined;
}

export function importProsody(file: string, text = readFileSync(file, 'utf8')): string {
  const statements = parseLuaConfig(text);
  const policy: ImportedPolicy = { source: file, upstreamPort: undefined, components: [], notes: [] };
  const components = new Map<string, ImportedComponent>();
  const component = (name: string): ImportedComponent => {
    let c = components.get(name);
    if (!c) {
      c = { name, privileges: {}, delegations: {}, notes: [] };
      components.set(name, c);
    }
    return c;
  };
  for (const st of statements) {
    if (st.section.kind === 'global' && st.name === 'component_ports') {
      const first = st.value.kind === 'table' ? st.value.entries[0]?.value : st.value;
      if (first?.kind === 'number') policy.upstreamPort = first.value;
      else policy.notes.push(`component_ports (line ${st.line}) is an expression; set upstream.port to the port Prosody listens on`);
    }
    if (st.section.kind === 'Component') component(st.section.name);
    if (st.section.kind !== 'VirtualHost') continue;
    const host = st.section.name;
    if (st.name === 'privileged_entities') {
      for (const [jid, grantValue] of tableMap(st.value)) {
        const c = component(jid);
        const g = tableMap(grantValue);
        const pick = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
          const v = str(g.get(key));
          if (v === undefined) return undefined;
          if ((allowed as readonly string[]).includes(v)) return v as T;
          c.notes.push(`${host}: ${key} = ${JSON.stringify(v)} is not a value privguard knows (allowed: ${allowed.join(', ')}); left out`);
          return undefined;
        };
        const iq: Record<string, string> = {};
        for (const [ns, t] of tableMap(g.get('iq'))) {
          const v = str(t);
          if (v && (IQ_ACCESS as readonly string[]).includes(v)) iq[ns] = v;
          else c.notes.push(`${host}: iq ${ns} = ${JSON.stringify(v ?? '?')} left out`);
        }
        c.privileges[host] = { roster: pick('roster', ROSTER_ACCESS), message: pick('message', MESSAGE_ACCESS), presence: pick('presence', PRESENCE_ACCESS), iq };
        for (const k of g.keys()) if (!['roster', 'message', 'presence', 'iq'].includes(k)) c.notes.push(`${host}: privileged_entities key ${k} has no privguard equivalent`);
      }
    }
    if (st.name === 'delegations') {
      for (const [ns, d] of tableMap(st.value)) {
        const m = tableMap(d);
        const jid = str(m.get('jid'));
        if (!jid) {
          policy.notes.push(`${host}: the delegation of ${ns} (line ${st.line}) names no jid; left out`);
          continue;
        }
        const c = component(jid);
        (c.delegations[host] ??= {})[ns] = tableStrings(m.get('filtering'));
      }
    }
  }
  for (const c of components.values()) {
    const secret = statements.find((s) => s.section.kind === 'Component' && s.section.name === c.name && s.name === 'component_secret');
    if (!secret) c.notes.push('no Component section with component_secret was found for it');
    const modules = statements.find((s) => s.section.kind === 'Component' && s.section.name === c.name && s.name === 'modules_enabled');
    if (secret && !tableStrings(modules?.value).includes('privilege') && Object.keys(c.privileges).length > 0) {
      c.notes.push('its Component section does not enable "privilege": Prosody sends it no advertisement (add modules_enabled = { "privilege"; "delegation" })');
    }
  }
  policy.components = [...components.values()];
  return writePolicy(policy);
}
