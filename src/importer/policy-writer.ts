/**
 * Writes an imported policy as commented YAML: secrets become { env: ... }
 * placeholders (never copied), and every note says what could not be
 * translated. The output is meant to be reviewed, then checked with
 * `privguard check`.
 */

export interface ImportedPrivileges {
  roster?: string;
  message?: string;
  presence?: string;
  iq: Record<string, string>;
}

export interface ImportedComponent {
  name: string;
  privileges: Record<string, ImportedPrivileges>;
  delegations: Record<string, Record<string, string[]>>;
  notes: string[];
}

export interface ImportedPolicy {
  source: string;
  upstreamPort: number | undefined;
  components: ImportedComponent[];
  notes: string[];
}

const q = (s: string) => JSON.stringify(s);
const envName = (component: string, what: string) => `${component.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}_${what}`;

export function writePolicy(p: ImportedPolicy): string {
  const out: string[] = [`# privguard policy imported from ${p.source}`, '# Review it, set the secrets, then run: privguard check -c THIS_FILE'];
  for (const n of p.notes) out.push(`# NOTE: ${n}`);
  const upstream = p.upstreamPort ?? 5348;
  const listen = upstream === 5347 ? 5348 : 5347;
  out.push('', `listen: { host: 127.0.0.1, port: ${listen} }  # point the components here`);
  out.push(`upstream: { host: 127.0.0.1, port: ${upstream} }${p.upstreamPort === undefined ? '  # NOTE: the server\'s component port could not be read; set it' : '  # the server\'s component port'}`);
  out.push('mode: report  # start by observing; switch to enforce when the audit log looks right', '', 'components:');
  if (p.components.length === 0) out.push('  {}  # NOTE: no component found');
  for (const c of p.components) {
    out.push(`  ${c.name}:`);
    for (const n of c.notes) out.push(`    # NOTE: ${n}`);
    out.push(`    secret: { env: ${envName(c.name, 'SECRET')} }  # a new secret for the component, towards privguard`);
    out.push(`    upstream_secret: { env: ${envName(c.name, 'UPSTREAM_SECRET')} }  # the secret the server has for this component`);
    const pdomains = Object.keys(c.privileges);
    if (pdomains.length > 0) {
      out.push('    privileges:');
      for (const d of pdomains) {
        const pr = c.privileges[d]!;
        out.push(`      ${d}:`);
        if (pr.roster) out.push(`        roster: ${pr.roster}`);
        if (pr.message) out.push(`        message: ${pr.message}`);
        if (pr.presence) out.push(`        presence: ${pr.presence}`);
        const iq = Object.entries(pr.iq);
        if (iq.length > 0) {
          out.push('        iq:');
          for (const [ns, t] of iq) out.push(`          ${q(ns)}: ${t}`);
        }
        out.push('        users: ["*"]  # narrow to the users the component acts for');
        out.push('        # NOTE: the content scopes are left at any (what the server grants); narrow them:');
        out.push('        #   message_to, and iq "<ns>": { type, to, nodes } (README "Least privilege")');
      }
    }
    const ddomains = Object.keys(c.delegations);
    if (ddomains.length > 0) {
      out.push('    delegations:');
      for (const d of ddomains) {
        out.push(`      ${d}:`);
        for (const [ns, attrs] of Object.entries(c.delegations[d]!)) {
          out.push(`        ${q(ns)}: { attributes: [${attrs.map(q).join(', ')}] }`);
        }
      }
    }
  }
  return `${out.join('\n')}\n`;
}
