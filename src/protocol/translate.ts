/**
 * Translation between the namespace versions of XEP-0356 (privilege:1 ⇄ :2)
 * and XEP-0355 (delegation:1 ⇄ :2), so that a component speaking one version
 * works with a server speaking the other (reference/specs.md §7). The wire
 * formats differ only in namespaces, except that privilege:1 has no `push`
 * attribute and no iq permission: those are removed towards a :1 peer (rights
 * a version lacks are never advertised). Decisions never see a version: the
 * session translates component stanzas into the server's version before they
 * are judged, and what goes to the component after.
 */
import type { Element } from '@xmpp/xml';
import { parseJid } from './jid.js';
import { DELEGATION_NS, DISCO, PRIVILEGE_NS, delegationVersion, privilegeVersion, type DelegationVersion, type PrivilegeVersion } from './ns.js';
import { elementChildren } from './privilege.js';

export interface Versions {
  privilege?: PrivilegeVersion | undefined;
  delegation?: DelegationVersion | undefined;
}

const NESTING = /^urn:xmpp:delegation:([12])(::|:bare:)/;
const SPECIAL = /^urn:xmpp:delegation:([12]):/;

/** Rewrites `el` in place from one side's versions to the other's; returns it. */
export function translate(el: Element, from: Versions, to: Versions): Element {
  const privFrom = from.privilege;
  const privTo = to.privilege;
  const delFrom = from.delegation;
  const delTo = to.delegation;
  const privChange = privFrom !== undefined && privTo !== undefined && privFrom !== privTo;
  const delChange = delFrom !== undefined && delTo !== undefined && delFrom !== delTo;
  if (!privChange && !delChange) return el; // the common case: nothing to translate
  for (const child of elementChildren(el)) {
    const ns = child.getNS();
    const pv = privilegeVersion(ns);
    if (pv !== undefined && privFrom !== undefined && privTo !== undefined && pv === privFrom && privTo !== privFrom) {
      child.attrs.xmlns = PRIVILEGE_NS[privTo];
      if (privTo === 1 && child.name === 'privilege' && el.name === 'message') {
        // privilege:1 knows no push and no iq permission.
        child.children = child.children.filter((p) => typeof p === 'string' || p.attrs.access !== 'iq');
        for (const p of elementChildren(child)) delete p.attrs.push;
      }
      if (privFrom === 1 && child.name === 'privilege' && el.name === 'message') {
        // A privilege:1 server never sends roster pushes: say so explicitly.
        for (const p of elementChildren(child)) if (p.attrs.access === 'roster') p.attrs.push = 'false';
      }
    }
    const dv = delegationVersion(ns);
    if (dv !== undefined && delFrom !== undefined && delTo !== undefined && dv === delFrom && delTo !== delFrom) {
      child.attrs.xmlns = DELEGATION_NS[delTo];
      for (const d of elementChildren(child)) {
        const n = d.attrs.namespace as string | undefined;
        if (d.name === 'delegated' && n && SPECIAL.test(n)) d.attrs.namespace = n.replace(SPECIAL, `urn:xmpp:delegation:${delTo}:`);
      }
    }
    // XEP-0355 §7.2: the disco nesting node carries the version too.
    if (el.name === 'iq' && child.name === 'query' && ns === DISCO.info && delFrom !== undefined && delTo !== undefined && delFrom !== delTo) {
      const node = child.attrs.node as string | undefined;
      const m = node ? NESTING.exec(node) : null;
      if (m && Number(m[1]) === delFrom) child.attrs.node = node!.replace(NESTING, `urn:xmpp:delegation:${delTo}$2`);
    }
  }
  return el;
}

/**
 * The versions a stanza from the server shows, and the server domain it is
 * from (only a bare domain speaks for the server).
 */
export function detectVersions(el: Element): { domain: string; versions: Versions } | undefined {
  const from = parseJid((el.attrs.from as string | undefined) ?? '');
  if (!from.ok || from.jid.local !== '' || from.jid.resource !== '') return undefined;
  const versions: Versions = {};
  for (const child of elementChildren(el)) {
    const ns = child.getNS();
    versions.privilege ??= privilegeVersion(ns);
    versions.delegation ??= delegationVersion(ns);
    if (el.name === 'iq' && child.name === 'query' && ns === DISCO.info) {
      const m = NESTING.exec((child.attrs.node as string | undefined) ?? '');
      if (m) versions.delegation ??= Number(m[1]) as DelegationVersion;
    }
  }
  if (versions.privilege === undefined && versions.delegation === undefined) return undefined;
  return { domain: from.jid.domain, versions };
}
