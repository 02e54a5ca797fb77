import { describe, expect, it } from 'vitest';
import { loadPolicyText } from '../../../src/config/load.js';
import { compileScope } from '../../../src/policy/compile.js';
import { parseJid } from '../../../src/protocol/jid.js';

const local = (raw: string): string => {
  const r = parseJid(`${raw}@example.org`);
  if (!r.ok) throw new Error(r.reason);
  return r.jid.local;
};

describe('user scope patterns are prepared like localparts (nodeprep)', () => {
  it('except_users catches every alias the server reads as the same user', () => {
    const scope = compileScope(['*'], ['Bob', 'BOSS'], 'p');
    for (const alias of ['bob', 'b\u00adob', 'bo\u200bb', '\ufeffbob', 'ＢＯＢ', 'boß', 'bo\u00ADss']) {
      expect(scope.check(local(alias)).ok, alias).toBe(false);
    }
    expect(scope.check(local('alice')).ok).toBe(true);
  });

  it('a pattern written with B.1 or B.2 characters matches the prepared user', () => {
    const scope = compileScope(['stra\u00dfe', 'bot-*'], [], 'p');
    expect(scope.check('strasse').ok).toBe(true);
    expect(scope.check('bot-1').ok).toBe(true);
    expect(scope.check('alice').ok).toBe(false);
  });

  it('the policy refuses a user pattern nodeprep refuses', () => {
    const text = `components:\n  c.example.org:\n    secret: s\n    privileges:\n      example.org: { roster: get, users: ["a\\uE000b"] }\n`;
    expect(() => loadPolicyText(text, 'p.yaml', {})).toThrow(/nodeprep/);
  });
});
