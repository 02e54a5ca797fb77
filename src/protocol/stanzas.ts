/**
 * The XML privguard writes itself on component streams (XEP-0114 §3): stream
 * headers, handshakes and stream errors (RFC 6120 §4.9). Stanza errors come
 * with the policy issues.
 */
import { createHash } from 'node:crypto';
import { Element } from '@xmpp/xml';
import { NS, type StanzaErrorCondition, type StanzaErrorType, type StreamErrorCondition } from './ns.js';
import { escapeAttr, escapeText } from './serialize.js';

const XML_DECL = "<?xml version='1.0'?>";

/** Opening tag privguard sends as the server side (towards a component). */
export function serverStreamHeader(from: string | undefined, id: string): string {
  const fromAttr = from ? ` from="${escapeAttr(from)}"` : '';
  return `${XML_DECL}<stream:stream xmlns:stream="${NS.streams}" xmlns="${NS.component}"${fromAttr} id="${escapeAttr(id)}">`;
}

/** Opening tag privguard sends as the component side (towards the server). */
export function clientStreamHeader(to: string): string {
  return `${XML_DECL}<stream:stream xmlns:stream="${NS.streams}" xmlns="${NS.component}" to="${escapeAttr(to)}">`;
}

export const STREAM_END = '</stream:stream>';

export function streamError(condition: StreamErrorCondition, text?: string): string {
  const t = text ? `<text xmlns="${NS.streamErrors}">${escapeText(text)}</text>` : '';
  return `<stream:error><${condition} xmlns="${NS.streamErrors}"/>${t}</stream:error>`;
}

/** XEP-0114 §3: lowercase hex SHA-1 of the stream id followed by the secret. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

export function handshake(streamId: string, secret: string): string {
  return `<handshake>${handshakeDigest(streamId, secret)}</handshake>`;
}

export const HANDSHAKE_OK = '<handshake/>';

/** The attributes of an answer to `original`: same id, from and to swapped (RFC 6120 §8.2.3, §8.3.1). */
export function replyAttrs(original: Element, type: string): Record<string, string> {
  const attrs: Record<string, string> = { type };
  const { id, from, to } = original.attrs as Record<string, string | undefined>;
  if (id !== undefined) attrs.id = id;
  if (to !== undefined) attrs.from = to;
  if (from !== undefined) attrs.to = from;
  return attrs;
}

/**
 * RFC 6120 §8.3: an error in answer to `original`: same element and id,
 * from/to swapped, one defined condition, a text, and `by` naming who decided.
 */
export function stanzaError(
  original: Element,
  type: StanzaErrorType,
  condition: StanzaErrorCondition,
  text?: string,
  by?: string,
): Element {
  const el = new Element(original.name, replyAttrs(original, 'error'));
  const err = el.c('error', by ? { type, by } : { type });
  err.c(condition, { xmlns: NS.stanzaErrors });
  if (text) err.c('text', { xmlns: NS.stanzaErrors, 'xml:lang': 'en' }).t(text);
  return el;
}

/** An empty IQ result answering `original` (same id, from/to swapped). */
export function iqResult(original: Element): Element {
  return new Element('iq', replyAttrs(original, 'result'));
}
