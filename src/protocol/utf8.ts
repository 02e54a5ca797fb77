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
