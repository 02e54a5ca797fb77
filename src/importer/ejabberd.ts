/**
 * `privguard import ejabberd`: reads mod_privilege and mod_delegation options
 * from an ejabberd.yml, resolves their access rules through access_rules and
 * acl to component domains, and the ejabberd_service listeners for the
 * components and their ports. Supported rule forms: `{ allow: acl }`, a list
 * of `{ allow: acl }` / `{ deny: acl }`, `all`/`none`; acls of `server:`
 * domains. Anything else is left out with a note.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { writePolicy, type ImportedComponent, type ImportedPolicy } from './policy-writer.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

export function importEjabberd(file: string, text = readFileSync(file, 'utf8')): string {
  const cfg: unknown = parse(text);
  const policy: ImportedPolicy = { source: file, upstreamPort: undefined, components: [], notes: [] };
  if (!isObj(cfg)) {
    policy.notes.push('the file is not a YAML mapping');
    return writePolicy(policy);
  }
  const hosts = list(cfg.hosts).filter((h): h is string => typeof h === 'string');
  const components = new Map<string, ImportedComponent>();
  const ports = new Map<string, number>();
  for (const l of list(cfg.listen)) {
    if (!isObj(l) || l.module !== 'ejabberd_service') continue;
    for (const name of Object.keys(isObj(l.hosts) ? l.hosts : {})) {
      components.set(name, { name, privileges: {}, delegations: {}, notes: [] });
      if (typeof l.port === 'number') ports.set(name, l.port);
    }
    if (isObj(l.hosts) && Object.keys(l.hosts).length > 1) {
      policy.notes.push(`one ejabberd_service listener serves ${Object.keys(l.hosts).join(', ')}: ejabberd then routes all of them over any one connection; give each its own listener`);
    }
  }
  const distinctPorts = [...new Set(ports.values())];
  policy.upstreamPort = distinctPorts[0];
  if (distinctPorts.length > 1) {
    policy.notes.push(
      `the components listen on different ports (${[...ports].map(([c, p]) => `${c}: ${p}`).join(', ')}); privguard has one upstream: run one privguard per component, with the matching port`,
    );
  }

  const acl = isObj(cfg.acl) ? cfg.acl : {};
  const rules = isObj(cfg.access_rules) ? cfg.access_rules : {};
  /** The component domains an access rule allows. */
  const allowed = (ruleName: unknown): { names: Set<string> | 'all'; note?: string } => {
    if (ruleName === 'all') return { names: 'all' };
    if (ruleName === 'none') return { names: new Set() };
    const rule = typeof ruleName === 'string' ? rules[ruleName] : undefined;
    if (rule === undefined) return { names: new Set(), note: `access rule ${String(ruleName)} is not in access_rules` };
    const names = new Set<string>();
    for (const item of list(rule)) {
      if (!isObj(item) || !('allow' in item)) return { names, note: `access rule ${String(ruleName)} has a form privguard cannot read` };
      for (const a of list(item.allow)) {
        if (a === 'all') return { names: 'all' };
        const def = typeof a === 'string' ? acl[a] : undefined;
        for (const entry of list(def)) {
          if (!isObj(entry) || !('server' in entry)) return { names, note: `acl ${String(a)} is not a plain server: list` };
          for (const s of list(entry.server)) {
            if (typeof s === 'string') names.add(s);
          }
        }
      }
    }
    return { names };
  };
  const apply = (rule: unknown, where: string, each: (c: ImportedComponent) => void) => {
    const r = allowed(rule);
    if (r.note) policy.notes.push(`${where}: ${r.note}`);
    for (const c of components.values()) if (r.names === 'all' || r.names.has(c.name)) each(c);
  };

  const modules = isObj(cfg.modules) ? cfg.modules : {};
  const priv = isObj(modules.mod_privilege) ? modules.mod_privilege : undefined;
  if (priv) {
    for (const host of hosts) {
      const grant = (c: ImportedComponent) => (c.privileges[host] ??= { iq: {} });
      for (const kind of ['roster', 'message', 'presence'] as const) {
        const opt = priv[kind];
        if (!isObj(opt)) continue;
        // Options are value → rule; ejabberd grants the first value whose rule matches (most first).
        for (const [value, rule] of Object.entries(opt)) {
          apply(rule, `mod_privilege.${kind}.${value}`, (c) => {
            const g = grant(c);
            g[kind] ??= value;
          });
        }
      }
      if (isObj(priv.iq)) {
        for (const [ns, byType] of Object.entries(priv.iq)) {
          if (!isObj(byType)) continue;
          for (const [type, rule] of Object.entries(byType)) apply(rule, `mod_privilege.iq.${ns}`, (c) => (grant(c).iq[ns] ??= type));
        }
      }
    }
  }
  const deleg = isObj(modules.mod_delegation) && isObj(modules.mod_delegation.namespaces) ? modules.mod_delegation.namespaces : undefined;
  if (deleg) {
    for (const [ns, o] of Object.entries(deleg)) {
      const opts = isObj(o) ? o : {};
      const filtering = list(opts.filtering).filter((a): a is string => typeof a === 'string');
      apply(opts.access ?? 'all', `mod_delegation.namespaces.${ns}`, (c) => {
        for (const host of hosts) (c.delegations[host] ??= {})[ns] = filtering;
        if (filtering.length > 0) {
          c.notes.push(
            `ejabberd ignores "filtering" of ${ns} and forwards every such IQ; privguard enforces the attributes and answers the others service-unavailable (they no longer reach ejabberd's own handler): drop the attributes if users need the server's own ${ns}`,
          );
        }
      });
    }
  }
  if (isObj(cfg.host_config)) policy.notes.push('host_config may override the modules per host; it was not read');
  policy.components = [...components.values()];
  return writePolicy(policy);
}
