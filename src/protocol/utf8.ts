/**
 * UTF-8 byte counts of decoded text, for the stanza size limit: counted over
 * UTF-16 code units as they are scanned, without encoding anything.
 */

/** UTF-8 bytes of one UTF-16 code unit beyond the first (a surrogate half counts 2, so a pair counts 4). */
export function extraUtf8(c: number): number {
  return c < 0x80 ? 0 : c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 1 : 2;
}

/** UTF-8 length of str[start, end). */
export function utf8Length(str: string, start = 0, end = str.length): number {
  let n = 0;
  for (let i = start; i < end; i++) n += 1 + extraUtf8(str.charCodeAt(i));
  return n;
}

/**
 * Decodes a byte stream as strict UTF-8 (RFC 3629), a character split across
 * reads included. Invalid input (overlong forms, surrogates, bytes that start
 * no character, a truncated sequence followed by more) is an error, never
 * repaired to U+FFFD: the server's parser fails on it, so privguard must not
 * forward a repaired version of what the server would refuse.
 */
export class StrictUtf8Decoder {
  #decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  /** The characters of `bytes`, or undefined when the input is not UTF-8 (the decoder is then unusable). */
  write(bytes: Uint8Array): string | undefined {
    try {
      return this.#decoder.decode(bytes, { stream: true });
    } catch {
      return undefined;
    }
  }
}
