/**
 * Input as reads might deliver it, for the property tests: a text cut at
 * arbitrary points, and a text with arbitrary insertions and deletions.
 */

/** `s` cut at the given points (each taken modulo its length + 1, duplicates once), in order. */
export function cutAt(s: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let last = 0;
  for (const p of points) {
    out.push(s.slice(last, p));
    last = p;
  }
  out.push(s.slice(last));
  return out;
}

export type Edit = readonly [at: number, kind: 'insert' | 'delete', piece: string];

/** `s` with each edit applied in turn: `piece` inserted, or one character deleted, at `at` modulo the length + 1. */
export function applyEdits(s: string, edits: readonly Edit[]): string {
  for (const [n, kind, piece] of edits) {
    const at = n % (s.length + 1);
    s = kind === 'insert' ? s.slice(0, at) + piece + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
  }
  return s;
}
