/**
 * UTF-8 byte counts of decoded text, for the stanza size limit: counted over
 * UTF-16 code units as they are scanned, without encoding anything. And the
 * strict decoder of the bytes read, and the copy that makes a joined read flat.
 */
import { Buffer, isAscii } from 'node:buffer';

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
 * Whether every byte of `bytes` is ASCII from 0x20 on, other than '&' and
 * ']': text without references, CDATA ends, control characters (tab and line
 * ends included) or anything needing UTF-8 counting (the `plain` of
 * protocol/parser.ts). Looks at four bytes per step: a loop over single bytes
 * (or characters) costs several times as much, and this runs over every byte
 * read.
 */
export function isPlainAscii(bytes: Uint8Array): boolean {
  const len = bytes.length;
  let i = 0;
  // Byte by byte up to a 4-byte boundary of the underlying memory, and after the last whole word.
  const head = Math.min(len, (4 - (bytes.byteOffset & 3)) & 3);
  for (; i < head; i++) if (!plainByte(bytes[i]!)) return false;
  const words = (len - i) >> 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    let bad = 0;
    for (let n = 0; n < words; n++) {
      const x = w[n]!;
      const amp = x ^ 0x26262626;
      const bracket = x ^ 0x5d5d5d5d;
      // Per byte, the top bit ends up set where a byte is >= 0x80, below 0x20, or
      // equals '&' or ']' (a zero after the xor); a borrow may mark a byte
      // beside a marked one too, never an unmarked word, so "none" is exact.
      bad |= x | ((x - 0x20202020) & ~x) | ((amp - 0x01010101) & ~amp) | ((bracket - 0x01010101) & ~bracket);
    }
    if ((bad & 0x80808080) !== 0) return false;
    i += words * 4;
  }
  for (; i < len; i++) if (!plainByte(bytes[i]!)) return false;
  return true;
}

function plainByte(b: number): boolean {
  return b >= 0x20 && b < 0x80 && b !== 0x26 && b !== 0x5d;
}

/**
 * The rest of the last read joined to this one (by the parser), as one
 * sequential string. A joined string is a rope in V8, and every charCodeAt on
 * it takes a slower path; the fast path reads each character of a read at
 * least once. For plain ASCII (Latin-1 is then exact) a copy through a Buffer
 * is a few memcpys per read and saves more than that per stanza.
 */
export function sequential(joined: string, plain: boolean): string {
  if (!plain) return joined;
  // Latin-1 keeps only the low byte of each character: a wrong `plain` would turn U+4E3C into '<'.
  // Whatever the flag says, characters are never changed: only input that is all ASCII is copied.
  return Buffer.byteLength(joined, 'utf8') === joined.length ? Buffer.from(joined, 'latin1').toString('latin1') : joined;
}

/**
 * `pending` (ASCII characters: the rest of an earlier ASCII read) joined to the
 * ASCII bytes `bytes`, as bytes: one flat copy whose Latin-1 decoding is the
 * joined text, one byte per character. Undefined if `pending` is not ASCII.
 */
export function joinAscii(pending: string, bytes: Uint8Array): Buffer | undefined {
  // Latin-1 keeps only each character's low byte: a wrong caller must not turn U+4E3C into '<' (undefined: join as text).
  if (Buffer.byteLength(pending, 'utf8') !== pending.length) return undefined;
  const out = Buffer.allocUnsafe(pending.length + bytes.length);
  out.write(pending, 0, 'latin1');
  out.set(bytes, pending.length);
  return out;
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
  /** The decoder may hold the first bytes of a character split across reads. */
  #mayHoldPart = false;
  /** Whether the characters last returned are plain ASCII (isPlainAscii). */
  plain = false;
  /** Whether the characters last returned are the bytes given, one per character (an ASCII read). */
  ascii = false;

  /** The characters of `bytes`, or undefined when the input is not UTF-8 (the decoder is then unusable). */
  write(bytes: Uint8Array): string | undefined {
    if (!this.#mayHoldPart && isAscii(bytes)) {
      // ASCII is its own UTF-8 and Latin-1: a plain copy decodes it (most reads are ASCII).
      this.plain = isPlainAscii(bytes);
      this.ascii = true;
      return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)).toString('latin1');
    }
    this.plain = false;
    this.ascii = false;
    try {
      const text = this.#decoder.decode(bytes, { stream: true });
      // A read ending in an ASCII byte ends on a whole character (or the decoder has failed).
      this.#mayHoldPart = bytes.length > 0 && bytes[bytes.length - 1]! >= 0x80;
      return text;
    } catch {
      return undefined;
    }
  }
}
