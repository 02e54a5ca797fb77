import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isPlainAscii, sequential, StrictUtf8Decoder } from '../../../src/protocol/utf8.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const ascii = (s: string) => new TextEncoder().encode(s);

describe('isPlainAscii', () => {
  // The definition, a byte at a time.
  const reference = (b: Uint8Array) => b.every((x) => x >= 0x20 && x < 0x80 && x !== 0x26 && x !== 0x5d);

  it('agrees with the byte-by-byte definition at any length and alignment', () => {
    // Bytes biased towards the edges of the class: each odd one in any position of a 4-byte word.
    const byte = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7f }) },
      { weight: 1, arbitrary: fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x26, 0x5d, 0x80, 0xa6, 0xdd, 0xff, 0x7f, 0x20, 0x25, 0x27, 0x5c, 0x5e) },
    );
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 40 }), fc.nat(7), (arr, offset) => {
        const backing = new Uint8Array(offset + arr.length);
        backing.set(arr, offset);
        const view = backing.subarray(offset);
        expect(isPlainAscii(view)).toBe(reference(view));
      }),
      { numRuns: 20_000, seed: 12 },
    );
  });

  it.each([
    ['a tab', 0x09],
    ['a line feed', 0x0a],
    ['NUL', 0x00],
    ["'&'", 0x26],
    ["']'", 0x5d],
    ['a byte above ASCII', 0xc3],
  ])('is false for %s anywhere in a long run', (_what, odd) => {
    for (let at = 0; at < 12; at++) {
      const b = ascii('x'.repeat(12));
      b[at] = odd;
      expect(isPlainAscii(b)).toBe(false);
    }
  });

  it('is true for printable ASCII with DEL, quotes and markup', () => {
    expect(isPlainAscii(ascii(`<message id='1' to="a@b">x > y \x7f</message>`))).toBe(true);
    expect(isPlainAscii(bytes())).toBe(true);
  });
});

describe('sequential', () => {
  it('joins plain input into the same characters', () => {
    expect(sequential(`<message id='1'>` + `<body>x</body>`, true)).toBe(`<message id='1'><body>x</body>`);
  });

  it('never changes a character, even when told wrongly that the input is plain', () => {
    // Latin-1 would keep U+4E3C's low byte: '<'.
    for (const s of ['a\u4e3cb', 'é', '😀', '\ud800', 'x\u0100'])
      expect(sequential(`<m>${s}`, true)).toBe(`<m>${s}`);
  });
});

describe('StrictUtf8Decoder', () => {
  it('says which reads are plain ASCII', () => {
    const d = new StrictUtf8Decoder();
    expect(d.write(ascii("<a b='c'>"))).toBe("<a b='c'>");
    expect(d.plain).toBe(true);
    expect(d.write(ascii('x\ny'))).toBe('x\ny');
    expect(d.plain).toBe(false);
    expect(d.write(bytes(0xc3, 0xa9))).toBe('é');
    expect(d.plain).toBe(false);
    // A read ending in a non-ASCII byte may have left part of a character behind: the next one is decoded in full.
    expect(d.write(ascii('z'))).toBe('z');
    expect(d.plain).toBe(false);
    expect(d.write(ascii('w'))).toBe('w');
    expect(d.plain).toBe(true);
  });

  it('completes a character split across reads when the read after it is ASCII', () => {
    const d = new StrictUtf8Decoder();
    expect(d.write(bytes(0x61, 0xe2, 0x82))).toBe('a');
    expect(d.write(bytes(0xac))).toBe('\u20AC');
    expect(d.write(ascii('bc'))).toBe('bc');
    expect(d.write(ascii('de'))).toBe('de');
    expect(d.plain).toBe(true);
  });

  it('refuses an ASCII read after an unfinished character', () => {
    const d = new StrictUtf8Decoder();
    expect(d.write(ascii('<a>'))).toBe('<a>');
    expect(d.write(bytes(0x62, 0xe2, 0x82))).toBe('b');
    expect(d.write(ascii('cd'))).toBeUndefined();
    expect(d.plain).toBe(false);
  });

  it('decodes non-ASCII after ASCII reads, and refuses invalid bytes there', () => {
    const d = new StrictUtf8Decoder();
    expect(d.write(ascii('<a>'))).toBe('<a>');
    expect(d.write(bytes(0x68, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80))).toBe('hé😀');
    expect(d.write(ascii('<b/>'))).toBe('<b/>');
    expect(d.write(bytes(0x78, 0xc0, 0xaf))).toBeUndefined();
  });

  it('reads a Buffer and a view into a larger array alike', () => {
    const big = ascii('..<a/>..');
    expect(new StrictUtf8Decoder().write(big.subarray(2, 6))).toBe('<a/>');
    expect(new StrictUtf8Decoder().write(Buffer.from('<a/>'))).toBe('<a/>');
  });
});
