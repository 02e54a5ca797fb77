/**
 * Pubsub node scopes (`iq.<pubsub ns>.nodes`): which nodes a privileged pubsub
 * IQ may name. Node names are opaque, case-sensitive strings (XEP-0060 §4.4),
 * so patterns are compared as written; `*` stands for any run of characters.
 *
 * What is judged, and why this way: the server picks the operation from the
 * payload's children by name — Prosody's mod_pubsub takes the first child
 * element whatever its namespace — so every element child of the `<pubsub/>`
 * payload is judged, in any namespace:
 *  - a child with a `node` attribute must name a node in scope;
 *  - `configure`, `publish-options` and `options` without a node belong to a
 *    sibling operation (create, publish, subscribe) and pass when such a
 *    sibling with a node is there (that sibling is judged);
 *  - any other child without a node (`subscriptions`, `affiliations`, an
 *    instant-node `create`, `default`, `items`/`publish` without node …) can
 *    reach nodes the list does not name, so it is refused unless the list is
 *    `["*"]`.
 * Pure; compiled once per policy.
 */
import type { Element } from '@xmpp/xml';
import { elementChildren } from '../protocol/privilege.js';

export interface NodeScope {
  /** The patterns as written, for texts and `check`. */
  readonly patterns: readonly string[];
  /** `["*"]` (or any list holding "*"): every node, and node-less operations. */
  readonly all: boolean;
  matches(node: string): boolean;
}

/**
 * Literal names go into a Set and `prefix*` patterns into a Set of prefixes
 * (one look-up per prefix length of the node), other globs into one anchored
 * alternation: the cost per node does not grow with the number of literals
 * and prefixes.
 */
export function compileNodeScope(patterns: readonly string[]): NodeScope {
  const literals = new Set<string>();
  const prefixes = new Set<string>();
  const lengths = new Set<number>();
  const wild: string[] = [];
  let all = false;
  for (const p of patterns) {
    if (p === '*') all = true;
    const star = p.indexOf('*');
    if (star === -1) literals.add(p);
    else if (star === p.length - 1) {
      prefixes.add(p.slice(0, -1));
      lengths.add(star);
    } else wild.push(p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*'));
  }
  const re = wild.length > 0 ? new RegExp(`^(?:${wild.join('|')})$`, 'su') : undefined;
  const byLength = [...lengths].sort((a, b) => a - b);
  return Object.freeze({
    patterns: Object.freeze([...patterns]),
    all,
    matches(node: string): boolean {
      if (all || literals.has(node)) return true;
      for (const n of byLength) {
        if (n > node.length) break;
        if (prefixes.has(node.slice(0, n))) return true;
      }
      return re !== undefined && re.test(node);
    },
  });
}

/** Children that carry no node of their own: they configure the sibling operation. */
const COMPANIONS = new Set(['configure', 'publish-options', 'options']);

export type NodeCheck = { ok: true } | { ok: false; detail: string };

/** Judges a pubsub payload (`<pubsub/>` of either pubsub namespace) against the node scope. */
export function checkPubsubNodes(scope: NodeScope, payload: Element): NodeCheck {
  if (scope.all) return { ok: true };
  const kids = elementChildren(payload);
  let sibling = false;
  for (const c of kids) {
    const node = c.attrs.node as string | undefined;
    if (node === undefined) continue;
    if (!scope.matches(node)) return { ok: false, detail: `node "${node}" (<${c.name}/>)` };
    sibling = true;
  }
  for (const c of kids) {
    if (c.attrs.node !== undefined) continue;
    if (COMPANIONS.has(c.name) && sibling) continue;
    return { ok: false, detail: `<${c.name}/> without a node may reach any node` };
  }
  return { ok: true };
}
