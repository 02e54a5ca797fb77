/**
 * policy/globs.ts files globs under their literal ends; it must match exactly
 * what one anchored alternation of all of them matches (the reference below,
 * the way scopes were matched before).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlobSet } from '../../../src/policy/globs.js';

function reference(patterns: readonly string[], stop: string): (s: string) => boolean {
  if (patterns.length === 0) return () => false;
  const wild = `[^${stop}]`;
  const src = patterns.map((p) =>
    p
      .split(/([*?])/)
      .map((piece) => (piece === '*' ? `${wild}*` : piece === '?' ? wild : piece.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join(''),
  );
  const re = new RegExp(`^(?:${src.join('|')})$`, 'su');
  return (s) => re.test(s);
}

describe('glob sets', () => {
  it('match exactly what one alternation of the same globs matches', () => {
    const pattern = fc.array(fc.constantFrom('a', 'b', '.', '@', '*', '?', 'é', '𝔞'), { maxLength: 7 }).map((cs) => cs.join(''));
    const text = fc.array(fc.constantFrom('a', 'b', '.', '@', 'é', '𝔞'), { maxLength: 8 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 6 }), fc.array(text, { minLength: 1, maxLength: 6 }), (patterns, texts) => {
        const set = compileGlobSet(patterns, '@');
        const ref = reference(patterns, '@');
        for (const t of texts) expect(set.test(t), `${JSON.stringify(patterns)} on ${t}`).toBe(ref(t));
      }),
      { numRuns: 3000 },
    );
  });

  it('a wildcard never crosses the stop character', () => {
    const set = compileGlobSet(['*@conference.example.org', 'bot-*', '*.example.org'], '@');
    expect(set.test('room@conference.example.org')).toBe(true);
    expect(set.test('a@b@conference.example.org')).toBe(false);
    expect(set.test('bot-1')).toBe(true);
    expect(set.test('bot-1@x')).toBe(false);
    expect(set.test('x.example.org')).toBe(true);
    expect(set.test('x@y.example.org')).toBe(false);
  });

  it('10,000 globs sharing one end are filed under the other', () => {
    const globs = Array.from({ length: 10_000 }, (_, i) => `user${i}-*@example.org`);
    const set = compileGlobSet(globs, '@');
    expect(set.test('user9999-x@example.org')).toBe(true);
    expect(set.test('user10000-x@example.org')).toBe(false);
    expect(set.test('user12-x@example.com')).toBe(false);
  });
});
