/**
 * The `roster_items` scope on roster content (issue 14): which contacts of a
 * managed user's roster a component may touch (roster sets) and see (roster
 * results, pushes). Pure: a roster `<query/>` and a scope predicate in; a
 * judgement, or a filtered copy, out. The judged tree is never changed: a
 * filtered stanza is a new tree sharing the untouched parts (report mode
 * forwards the original).
 */
import { Element } from '@xmpp/xml';
import { parseJid, type Jid } from '../protocol/jid.js';
import { elementChildren } from '../protocol/privilege.js';

export type InScope = (jid: Jid) => boolean;

export type ItemsCheck = { ok: true } | { ok: false; malformed: boolean; detail: string };

/**
 * A roster set may add, change or remove only items in scope; one item out of
 * scope refuses the whole IQ (nothing is applied). Every `<item/>` child is
 * judged, in any namespace, as the server reads them by name.
 */
export function checkRosterSetItems(query: Element, inScope: InScope): ItemsCheck {
  for (const item of elementChildren(query)) {
    if (item.name !== 'item') continue;
    const raw = item.attrs.jid as string | undefined;
    const jid = raw === undefined ? undefined : parseJid(raw);
    if (jid === undefined || !jid.ok) return { ok: false, malformed: true, detail: 'a roster item needs a valid "jid"' };
    if (!inScope(jid.jid)) return { ok: false, malformed: false, detail: `item ${jid.jid.bare}` };
  }
  return { ok: true };
}

/**
 * The items of a roster result or push the component may see. Items whose
 * `jid` is missing or malformed cannot be judged and are hidden too. Returns
 * the number hidden and, when it is not zero, a copy of the query without them.
 */
export function filterRosterQuery(query: Element, inScope: InScope): { hidden: number; query: Element } {
  let hidden = 0;
  const kept: Element['children'] = [];
  for (const c of query.children) {
    if (typeof c !== 'string' && c.name === 'item') {
      const raw = c.attrs.jid as string | undefined;
      const jid = raw === undefined ? undefined : parseJid(raw);
      if (jid === undefined || !jid.ok || !inScope(jid.jid)) {
        hidden++;
        continue;
      }
    }
    kept.push(c);
  }
  if (hidden === 0) return { hidden, query };
  return { hidden, query: shallowCopy(query, kept) };
}

function shallowCopy(el: Element, children: Element['children']): Element {
  const copy = new Element(el.name, { ...el.attrs });
  copy.children = children;
  return copy;
}

/**
 * A copy of `root` in which the element at the end of `path` (root's child,
 * grandchild, …) is replaced; the elements along the path are copied, all
 * others shared.
 */
export function replaceAlong(root: Element, path: readonly Element[], replacement: Element): Element {
  if (path.length === 0) return replacement;
  const [next, ...rest] = path as [Element, ...Element[]];
  return shallowCopy(
    root,
    root.children.map((c) => (c === next ? replaceAlong(next, rest, replacement) : c)),
  );
}
