/**
 * What the stream parser (parser.ts) takes and hands out: its handlers, its
 * limits and the failure that ends a stream. Apart so that the modules the
 * parser drives (frame.ts) and the streams that drive it can name them
 * without the parser's state.
 */
import type { Element } from '@xmpp/xml';
import type { FramedStanza } from './frame.js';
import type { StreamErrorCondition } from './ns.js';
import type { StreamHeader } from './tree.js';

export interface ParseFailure {
  condition: StreamErrorCondition;
  text: string;
}

export interface ParserHandlers {
  onHeader(header: StreamHeader): void;
  /**
   * A complete stanza. `raw`, when given, is its characters as they arrived,
   * and every reader of XML reads them as exactly this tree (see #rawOk): a
   * stanza judged and left unchanged may be forwarded as `raw`.
   */
  onStanza(stanza: Element, raw?: string): void;
  onEnd(): void;
  /** White space between stanzas (a keep-alive); called at most once per write. */
  onWhitespace?(): void;
  /**
   * A complete stanza that needs no tree (protocol/frame.ts). Return true when
   * it was handled as it is; false makes the parser parse it in full and hand
   * it to onStanza. Without this handler every stanza is parsed in full.
   */
  onFramed?(stanza: FramedStanza): boolean;
  /** Namespaces that send a stanza to the full path (policy/framed.ts); the fast path needs it with onFramed. */
  isJudged?: (ns: string) => boolean;
}

export interface ParserLimits {
  maxStanzaBytes: number;
  maxDepth: number;
  /**
   * Reading the server's stream: tolerate a reserved namespace declared as the
   * default one. Prosody writes a user's `<xml:x/>` that way; refusing it would
   * let any user end the component's session. A component gets it refused.
   */
  serverStream?: boolean;
}
