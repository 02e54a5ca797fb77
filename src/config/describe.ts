/**
 * A readable table of what a policy grants (`privguard check`): one row per
 * component × server domain. Secrets never appear; only where they come from.
 */
import type { LoadedPolicy } from './load.js';
import { PUBSUB_NAMESPACES, type SecretSource } from './schema.js';

function secretOrigin(s: SecretSource): string {
  if (typeof s === 'string') return 'inline';
  return 'env' in s ? `env ${s.env}` : `file ${s.file}`;
}

const list = (xs: readonly string[]) => `[${xs.join(', ')}]`;

/** Content scopes (roster_items, message_to, iq to/nodes), per component and domain: every one, defaults included. */
function describeScopes(loaded: LoadedPolicy): string[] {
  const out: string[] = ['', 'scopes (what each right may reach; [any] = not narrowed):'];
  for (const c of loaded.components.values()) {
    for (const [d, pr] of Object.entries(c.policy.privileges)) {
      out.push(`  ${c.name} on ${d}:`);
      out.push(`    message_to ${list(pr.message_to)}`);
      for (const [ns, g] of Object.entries(pr.iq)) {
        if (typeof g === 'string') out.push(`    iq ${ns} ${g}: to [any]${isPubsub(ns) ? ', nodes [*]' : ''}`);
        else out.push(`    iq ${ns} ${g.type}: to ${list(g.to)}${isPubsub(ns) ? `, nodes ${list(g.nodes ?? ['*'])}` : ''}`);
      }
    }
  }
  return out.length > 2 ? out : [];
}

const isPubsub = (ns: string) => (PUBSUB_NAMESPACES as readonly string[]).includes(ns);

export function describePolicy(loaded: LoadedPolicy): string {
  const p = loaded.policy;
  const lines: string[] = [
    `policy ${loaded.file}: OK (revision ${loaded.revision.slice(0, 12)})`,
    `listen ${p.listen.host}:${p.listen.port} → upstream ${p.upstream.host}:${p.upstream.port}, mode ${p.mode}, audit ${p.audit.file}` +
      (p.metrics ? `, metrics ${p.metrics.host}:${p.metrics.port}` : ''),
    `limits: max_stanza_bytes ${p.limits.max_stanza_bytes}, pending_timeout_ms ${p.limits.pending_timeout_ms}, max_pending ${p.limits.max_pending}`,
    '',
  ];
  const rows: string[][] = [['component', 'domain', 'roster', 'push', 'message', 'presence', 'iq', 'users', 'delegations']];
  for (const c of loaded.components.values()) {
    const cp = c.policy;
    lines.push(`component ${c.name}: secret ${secretOrigin(cp.secret)}, upstream secret ${secretOrigin(cp.upstream_secret)}${cp.allow_shared_secret ? ' (allow_shared_secret)' : ''}`);
    const domains = new Set([...Object.keys(cp.privileges), ...Object.keys(cp.delegations)]);
    if (domains.size === 0) rows.push([c.name, '-', 'none', '-', 'none', 'none', '-', '-', '-']);
    for (const d of domains) {
      const pr = cp.privileges[d];
      const dl = cp.delegations[d] ?? {};
      const iq = pr ? Object.entries(pr.iq).map(([ns, t]) => `${ns}=${typeof t === 'string' ? t : t.type}`).join(' ') || '-' : '-';
      const users = pr ? pr.users.join(',') + (pr.except_users.length ? ` except ${pr.except_users.join(',')}` : '') : '-';
      const deleg =
        Object.entries(dl)
          .map(([ns, v]) => (v.attributes.length ? `${ns}[${v.attributes.join(',')}]` : ns))
          .join(' ') || '-';
      const push = pr ? (pr.roster_push === undefined ? 'default' : String(pr.roster_push)) : '-';
      rows.push([c.name, d, pr?.roster ?? 'none', push, pr?.message ?? 'none', pr?.presence ?? 'none', iq, users, deleg]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  lines.push('');
  for (const r of rows) lines.push(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  lines.push(...describeScopes(loaded));
  const notes = subscriptionNotes(loaded);
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}

/** roster_subscription is a presence right in disguise: say so wherever it is granted. */
function subscriptionNotes(loaded: LoadedPolicy): string[] {
  const notes: string[] = [];
  for (const c of loaded.components.values()) {
    for (const [d, pr] of Object.entries(c.policy.privileges)) {
      const scope = pr.roster_subscription;
      if (scope.length === 0) continue;
      const writes = pr.roster === 'set' || pr.roster === 'both';
      notes.push(
        `note: ${c.name} on ${d}: roster_subscription ${JSON.stringify(scope)} lets its roster sets give those items a subscription,` +
          ` so it receives the presence of the users whose rosters it writes (whatever presence says)` +
          (writes ? '' : `; without roster set (roster is "${pr.roster}") it has no effect`),
      );
    }
  }
  return notes;
}
