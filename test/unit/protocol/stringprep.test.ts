import { describe, expect, it } from 'vitest';
import { nameprep, nodeprep, resourceprep } from '../../../src/protocol/stringprep.js';

// The full check against Prosody's own code is test/differential/stringprep.test.ts.
describe('stringprep profiles', () => {
  it('nodeprep deletes B.1, folds B.2 and normalises NFKC', () => {
    expect(nodeprep('B\u00adO\u200bB')).toEqual({ ok: true, value: 'bob' });
    expect(nodeprep('Straße')).toEqual({ ok: true, value: 'strasse' });
    expect(nodeprep('ﬁ')).toEqual({ ok: true, value: 'fi' });
    expect(nodeprep('Ⅻ')).toEqual({ ok: true, value: 'xii' });
  });

  it('nodeprep refuses its prohibited ASCII, spaces, controls and private use', () => {
    for (const s of ['a@b', 'a/b', 'a:b', "a'b", 'a b', 'a\tb', 'a\u00a0b', 'a\ue000b', 'a"b', 'a<b', 'a&b']) {
      expect(nodeprep(s).ok, JSON.stringify(s)).toBe(false);
    }
  });

  it('resourceprep keeps case and spaces, deletes B.1', () => {
    expect(resourceprep('My Phone\u00ad')).toEqual({ ok: true, value: 'My Phone' });
    expect(resourceprep('a\u0000').ok).toBe(false);
  });

  it('nameprep lower-cases and normalises', () => {
    expect(nameprep('ExAmple.ORG')).toEqual({ ok: true, value: 'example.org' });
    expect(nameprep('ｅｘａｍｐｌｅ')).toEqual({ ok: true, value: 'example' });
  });

  it('applies the bidi rules of RFC 3454 §6', () => {
    expect(nodeprep('\u05d0\u05d1').ok).toBe(true);
    expect(nodeprep('\u05d0a\u05d1').ok).toBe(false);
    expect(nodeprep('\u05d01').ok).toBe(false);
  });

  it('refuses unassigned (Unicode 3.2) and unstable code points, which Prosody may read otherwise', () => {
    expect(nodeprep('a\u0221').ok).toBe(false);
    expect(nodeprep('a\u2800').ok).toBe(false);
    expect(nodeprep('\u{1f600}').ok).toBe(false);
  });
});
