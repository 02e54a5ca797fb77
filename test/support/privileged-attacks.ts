/**
 * A hostile component's privileged messages (XEP-0356 §5) against the fast
 * path (protocol/privileged-shape.ts, policy/framed.ts): a component allowed
 * to write as alice only (`users: [alice]`) trying to write as bob, to slip a
 * second stanza or element past the judged one, or to make privguard and the
 * server read different JIDs or namespaces. Shared by the engine test (fast
 * path on and off must do the same: test/unit/engine/fast-path-attacks.test.ts)
 * and the differential test (the servers' readers read what the fast path
 * forwards as privguard judged it: test/differential/fast-path-readers.test.ts).
 */
import { loadPolicyText } from '../../src/config/load.js';
import type { Mode } from '../../src/config/schema.js';
import type { LinkEffects } from '../../src/engine/effects.js';
import { Link } from '../../src/engine/link.js';
import { compilePolicy, type CompiledComponent } from '../../src/policy/compile.js';
import { parseStanza } from './stanzas.js';

export const ATTACK_COMPONENT = 'pubsub.example.test';

export const ATTACK_POLICY = `components:
  ${ATTACK_COMPONENT}:
    secret: s
    upstream_secret: u
    speaks: { privilege: auto, delegation: auto }
    privileges:
      example.test: { message: outgoing, users: ["alice"] }
`;

/** What the server grants: message outgoing on example.test, :2. */
export const ATTACK_ADVERTISEMENT = `<message from='example.test' to='${ATTACK_COMPONENT}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/></privilege></message>`;

export const ATTACK_LIMITS = { maxStanzaBytes: 2000, maxDepth: 10 };

/** The attack component's part of `policy` (ATTACK_POLICY, or a text of it as after a reload), compiled. */
export function attackCompiled(policy = ATTACK_POLICY): CompiledComponent {
  return compilePolicy(loadPolicyText(policy, 'p.yaml', {})).components.get(ATTACK_COMPONENT)!;
}

/** A Link for the attack component on a fake clock, the server's advertisement already read. */
export function attackLink(effects: LinkEffects, compiled = attackCompiled(), mode: Mode = 'enforce'): Link {
  const link = new Link({ name: ATTACK_COMPONENT, compiled, mode, pendingTimeoutMs: 1000, maxPending: 10, now: () => 0, effects });
  link.fromServer(parseStanza(ATTACK_ADVERTISEMENT));
  return link;
}

interface Wrap {
  /** The outer message's attributes. */
  outer?: string;
  /** Text or elements before <privilege/>, before <forwarded/>, before the inner message. */
  before?: [string, string, string];
  /** The same after the inner message, after <forwarded/>, after <privilege/>. */
  after?: [string, string, string];
  privilegeNs?: string;
}

/** A privileged message around `inner`. */
export function privileged(inner: string, w: Wrap = {}): string {
  const [b0, b1, b2] = w.before ?? ['', '', ''];
  const [a2, a1, a0] = w.after ?? ['', '', ''];
  const outer = w.outer ?? `from='${ATTACK_COMPONENT}' to='example.test'`;
  return (
    `<message ${outer}>${b0}<privilege xmlns='${w.privilegeNs ?? 'urn:xmpp:privilege:2'}'>${b1}<forwarded xmlns='urn:xmpp:forward:0'>${b2}` +
    `${inner}${a2}</forwarded>${a1}</privilege>${a0}</message>`
  );
}

/** The inner message with these attributes (after its namespace declaration) and content. */
export function inner(attrs: string, content = '<body>hi</body>'): string {
  return `<message xmlns='jabber:client' ${attrs}>${content}</message>`;
}

const ALICE = "from='alice@example.test' to='carol@example.test'";
const BOB = "from='bob@example.test' to='carol@example.test'";
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** [what the attack tries, the stanza]. Some are allowed (as alice), most refused; either way both paths must agree. */
export const PRIVILEGED_ATTACKS: readonly (readonly [string, string])[] = [
  ['as alice (allowed: the control case)', privileged(inner(ALICE))],
  ['as bob, plainly', privileged(inner(BOB))],
  // White space where parsers normalise it.
  ['a line feed in the inner from', privileged(inner("from='alice@example.test\n' to='carol@example.test'"))],
  ['a tab in the inner from', privileged(inner("from='\talice@example.test' to='carol@example.test'"))],
  ['a CR in the inner from', privileged(inner("from='alice@example.test\r' to='carol@example.test'"))],
  ['line feeds and tabs between attributes and around =', privileged(`<message\txmlns='jabber:client'\nfrom\t=\t'alice@example.test'\nto = 'carol@example.test'\n/>`)],
  ['CR LF between attributes', privileged(inner("from='alice@example.test'\r\nto='carol@example.test'"))],
  ['CR LF in the inner message text', privileged(inner(ALICE, '<body>a\r\nb\rc</body>'))],
  ['CR between the wrapper elements', privileged(inner(ALICE), { before: ['\r\n', '\r', '\r\n'], after: ['\r', '\r\n', '\r'] })],
  ['a CR in an end tag', privileged(inner(ALICE)).replace('</forwarded>', '</forwarded\r>')],
  ['text between the wrapper elements', privileged(inner(ALICE), { before: ['x', 'y', 'z'], after: ['a', 'b', 'c'] })],
  // Attributes read twice or not at all.
  ['a duplicate inner from (alice, then bob)', privileged(inner(`${ALICE} from='bob@example.test'`))],
  ['a duplicate inner from (bob, then alice)', privileged(`<message xmlns='jabber:client' from='bob@example.test' from='alice@example.test' to='carol@example.test'/>`)],
  ['a duplicate inner xmlns', privileged(`<message xmlns='jabber:client' xmlns='jabber:client' ${ALICE}/>`)],
  ['the inner xmlns after from', privileged(`<message ${BOB} xmlns='jabber:client'/>`)],
  ['a from behind 16 other attributes', privileged(`<message xmlns='jabber:client' ${Array.from({ length: 16 }, (_, i) => `a${i}='x'`).join(' ')} ${BOB}/>`)],
  ['a prefixed from beside alice', privileged(`<message xmlns='jabber:client' xmlns:c='jabber:client' c:from='bob@example.test' ${ALICE}/>`)],
  ['xml:lang on the inner message', privileged(inner(`${ALICE} xml:lang='en'`))],
  ['FROM and XMLNS in upper case', privileged(`<message xmlns='jabber:client' XMLNS='urn:evil' FROM='bob@example.test' ${ALICE}/>`)],
  ['no attribute white space before to', privileged(`<message xmlns='jabber:client' from='alice@example.test'to='carol@example.test'/>`)],
  ['a quote of the other kind inside the from', privileged(`<message xmlns='jabber:client' from="alice@example.test' from='bob@example.test" to='carol@example.test'/>`)],
  ["'>' in an inner attribute", privileged(inner(`${ALICE} id='a>b'`))],
  ["'<' in an inner attribute", privileged(inner(`${ALICE} id='a<b'`))],
  ['no inner from', privileged(inner("to='carol@example.test'"))],
  ['no inner to', privileged(inner("from='alice@example.test'"))],
  ['no outer to', privileged(inner(ALICE), { outer: `from='${ATTACK_COMPONENT}'` })],
  ['the server domain as inner from', privileged(inner("from='example.test' to='carol@example.test'"))],
  ['a resource on the inner from', privileged(inner("from='alice@example.test/r' to='carol@example.test'"))],
  ['the outer from a JID under the component', privileged(inner(ALICE), { outer: `from='bot@${ATTACK_COMPONENT}' to='example.test' id='o1' type='chat'` })],
  ['an outer from of another domain', privileged(inner(ALICE), { outer: "from='other.example.test' to='example.test'" })],
  ['an outer type error', privileged(inner(ALICE), { outer: `from='${ATTACK_COMPONENT}' to='example.test' type='error'` })],
  // JIDs the server prepares to another text (stringprep).
  ['an upper-case inner from', privileged(inner("from='Bob@example.test' to='carol@example.test'"))],
  ['a fullwidth letter in the inner from', privileged(inner("from='ｂob@example.test' to='carol@example.test'"))],
  ['a soft hyphen in the inner from', privileged(inner("from='b\u00ADob@example.test' to='carol@example.test'"))],
  ['a zero-width space in the inner from', privileged(inner("from='al\u200Bice@example.test' to='carol@example.test'"))],
  ['a combining accent in the inner from', privileged(inner("from='alice\u0301@example.test' to='carol@example.test'"))],
  ['a no-break space after the inner from', privileged(inner("from='alice@example.test\u00A0' to='carol@example.test'"))],
  ['NEL and LS in the inner from', privileged(inner("from='alice@example.test\u0085\u2028' to='carol@example.test'"))],
  ['a BOM before the inner from', privileged(inner("from='\uFEFFalice@example.test' to='carol@example.test'"))],
  ['DEL in the inner from', privileged(inner("from='alice@example.test\u007F' to='carol@example.test'"))],
  ['an upper-case domain in the inner from', privileged(inner("from='alice@Example.test' to='carol@example.test'"))],
  ['a trailing dot on the inner domain', privileged(inner("from='alice@example.test.' to='carol@example.test'"))],
  ['a trailing dot on the outer to', privileged(inner(ALICE), { outer: `from='${ATTACK_COMPONENT}' to='example.test.'` })],
  ['an upper-case outer to', privileged(inner(ALICE), { outer: `from='${ATTACK_COMPONENT}' to='EXAMPLE.test'` })],
  ['a fullwidth inner to', privileged(inner("from='alice@example.test' to='ｃarol@example.test'"))],
  ['a fullwidth @ in the inner from', privileged(inner("from='bob＠example.test' to='carol@example.test'"))],
  ['two @ in the inner from', privileged(inner("from='alice@bob@example.test' to='carol@example.test'"))],
  // Namespaces: the inner message's, and redeclared below it.
  ['an inner message without a namespace', privileged(`<message ${ALICE}/>`)],
  ['an inner message in the component namespace', privileged(`<message xmlns='jabber:component:accept' ${ALICE}/>`)],
  ["white space around the inner message's namespace", privileged(`<message xmlns=' jabber:client' ${ALICE}/>`)],
  ['a privilege wrapper of :1 to a server of :2', privileged(inner(ALICE), { privilegeNs: 'urn:xmpp:privilege:1' })],
  ['jabber:client redeclared inside the inner message', privileged(inner(ALICE, "<body xmlns='jabber:client'>x</body>"))],
  ['the privilege namespace inside the inner message', privileged(inner(ALICE, "<x xmlns='urn:xmpp:privilege:2'/>"))],
  ['a privileged message as bob nested in the inner one', privileged(inner(ALICE, `<privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>${inner(BOB)}</forwarded></privilege>`))],
  ['a forwarded message as bob nested in the inner one', privileged(inner(ALICE, `<forwarded xmlns='urn:xmpp:forward:0'>${inner(BOB)}</forwarded>`))],
  ['the component namespace inside the inner message', privileged(inner(ALICE, "<x xmlns='jabber:component:accept'/>"))],
  ['the stream namespace inside the inner message', privileged(inner(ALICE, "<error xmlns='http://etherx.jabber.org/streams'/>"))],
  ["xmlns='' inside the inner message", privileged(inner(ALICE, "<x xmlns=''/>"))],
  ['the xml namespace declared as the default one inside the inner message', privileged(inner(ALICE, `<x xmlns='${XML_NS}'/>`))],
  ['the xmlns namespace declared as the default one inside the inner message', privileged(inner(ALICE, `<x xmlns='${XMLNS_NS}'/>`))],
  ['the xml namespace declared as the default one on a non-privileged message', `<message from='${ATTACK_COMPONENT}' to='carol@example.test'><x xmlns='${XML_NS}'/></message>`],
  // A second stanza or element next to the judged one.
  ["bob's message after alice's in <forwarded/>", privileged(inner(ALICE), { after: [inner(BOB), '', ''] })],
  ["bob's message before alice's in <forwarded/>", privileged(inner(ALICE), { before: ['', '', inner(BOB)] })],
  ["a second <forwarded/> with bob's message", privileged(inner(ALICE), { after: ['', `<forwarded xmlns='urn:xmpp:forward:0'>${inner(BOB)}</forwarded>`, ''] })],
  ["a second <privilege/> with bob's message", privileged(inner(ALICE), { after: ['', '', `<privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>${inner(BOB)}</forwarded></privilege>`] })],
  ["a <privilege/> with bob's message before alice's", privileged(inner(ALICE), { before: [`<privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'>${inner(BOB)}</forwarded></privilege>`, '', ''] })],
  ['a <delay/> before the inner message', privileged(inner(ALICE), { before: ['', '', "<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/>"] })],
  ['a body before <privilege/>', privileged(inner(ALICE), { before: ['<body>x</body>', '', ''] })],
  ["bob's privileged message right after alice's", privileged(inner(ALICE)) + privileged(inner(BOB))],
  ['text after the stanza', `${privileged(inner(ALICE))}trailing`],
  ['a self-closing inner message', privileged(`<message xmlns='jabber:client' ${ALICE}/>`)],
  ['a self-closing <forwarded/>', `<message from='${ATTACK_COMPONENT}' to='example.test'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'/></privilege></message>`],
  ['an inner message of type error', privileged(inner(`${ALICE} type='error'`))],
  ['an inner message of type groupchat', privileged(inner("from='alice@example.test' to='room@conference.example.test' type='groupchat'"))],
  ["bob's message closed by a wrong end tag", privileged(inner(ALICE)).replace('</forwarded>', '</forwardex>')],
  ['an end tag with white space', privileged(inner(ALICE)).replace('</message></forwarded>', '</message \n\t></forwarded >')],
  // Text that parsers treat specially.
  [']]> in text', privileged(inner(ALICE, '<body>a]]>b</body>'))],
  [']] in text', privileged(inner(ALICE, '<body>a]]b]</body>'))],
  ['an entity reference in text', privileged(inner(ALICE, '<body>a&amp;b</body>'))],
  ['a control character in text', privileged(inner(ALICE, '<body>a\u0001b</body>'))],
  ['DEL in text', privileged(inner(ALICE, '<body>a\u007Fb</body>'))],
  ['non-ASCII and astral characters in text', privileged(inner(ALICE, '<body>é漢😀\uFFFD</body>'))],
  ['U+FFFE in text', privileged(inner(ALICE, '<body>\uFFFE</body>'))],
  ['CDATA in text', privileged(inner(ALICE, '<body><![CDATA[x]]></body>'))],
  ['a comment', privileged(inner(ALICE, '<!-- c -->'))],
  ['nesting past the depth limit', privileged(inner(ALICE, '<a><b><c><d><e><f><g>x</g></f></e></d></c></b></a>'))],
  ['exactly as many UTF-8 bytes as the size limit', atLimit(0)],
  ['one UTF-8 byte more than the size limit', atLimit(1)],
];

/** Alice's message filled with 'é' (two UTF-8 bytes, one character) to `over` bytes beyond the size limit. */
function atLimit(over: number): string {
  const empty = privileged(inner(ALICE, '<body></body>'));
  const room = ATTACK_LIMITS.maxStanzaBytes - Buffer.byteLength(empty) + over;
  return privileged(inner(ALICE, `<body>${'é'.repeat(Math.floor(room / 2))}${room % 2 === 1 ? 'x' : ''}</body>`));
}
