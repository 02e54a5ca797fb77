/**
 * Reads the subset of Lua that server configs use for privileges: assignments
 * of strings, numbers, booleans and table constructors, and section lines
 * (`VirtualHost "x"`, `Component "x" "module"`). Anything else (locals,
 * function calls, concatenation) becomes an opaque value with its source
 * text, so the importer can say what it could not translate.
 */

export type LuaValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'table'; entries: { key: LuaValue | undefined; value: LuaValue }[] }
  | { kind: 'opaque'; text: string };

export interface LuaStatement {
  section: { kind: 'global' | 'VirtualHost' | 'Component'; name: string };
  name: string;
  value: LuaValue;
  line: number;
}

type Token = { t: 'str' | 'num' | 'id' | 'sym'; v: string; line: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (src.startsWith('--[[', i)) {
      const end = src.indexOf(']]', i);
      const stop = end === -1 ? src.length : end + 2;
      line += (src.slice(i, stop).match(/\n/g) ?? []).length;
      i = stop;
    } else if (src.startsWith('--', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let v = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[j + 1]!;
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else v += src[j++];
      }
      out.push({ t: 'str', v, line });
      i = j + 1;
    } else if (src.startsWith('[[', i)) {
      const end = src.indexOf(']]', i + 2);
      const stop = end === -1 ? src.length : end;
      out.push({ t: 'str', v: src.slice(i + 2, stop), line });
      line += (src.slice(i, stop).match(/\n/g) ?? []).length;
      i = stop + 2;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0], line });
      i += m[0].length;
    } else if (src.startsWith('..', i)) {
      out.push({ t: 'sym', v: '..', line });
      i += 2;
    } else {
      out.push({ t: 'sym', v: c, line });
      i++;
    }
  }
  return out;
}

export function parseLuaConfig(src: string): LuaStatement[] {
  const toks = tokenize(src);
  let p = 0;
  const peek = (o = 0) => toks[p + o];
  const statements: LuaStatement[] = [];
  let section: LuaStatement['section'] = { kind: 'global', name: '' };

  /** One value; an expression beyond the subset is kept opaque, up to a separator or the end of its line. */
  const value = (): LuaValue => {
    const start = p;
    const single = simple();
    const next = peek();
    if (!next || !['..', '(', 'or', 'and', '+', '-', '*', '/'].includes(next.v) || next.line !== toks[p - 1]!.line) return single;
    let depth = 0;
    while (p < toks.length) {
      const t = peek()!;
      if (depth === 0 && (t.v === ';' || t.v === ',' || t.v === '}' || t.v === ']' || t.line > toks[p - 1]!.line)) break;
      if (t.v === '(' || t.v === '{' || t.v === '[') depth++;
      if (t.v === ')' || t.v === '}' || t.v === ']') depth--;
      p++;
    }
    return { kind: 'opaque', text: toks.slice(start, p).map((t) => (t.t === 'str' ? JSON.stringify(t.v) : t.v)).join(' ') };
  };
  const simple = (): LuaValue => {
    const t = toks[p++];
    if (!t) return { kind: 'opaque', text: '' };
    if (t.t === 'str') return { kind: 'string', value: t.v };
    if (t.t === 'num') return { kind: 'number', value: Number(t.v) };
    if (t.t === 'id' && (t.v === 'true' || t.v === 'false')) return { kind: 'boolean', value: t.v === 'true' };
    if (t.v === '{') {
      const entries: { key: LuaValue | undefined; value: LuaValue }[] = [];
      while (p < toks.length && peek()!.v !== '}') {
        let key: LuaValue | undefined;
        if (peek()!.v === '[') {
          p++;
          key = value();
          if (peek()?.v === ']') p++;
          if (peek()?.v === '=') p++;
        } else if (peek()!.t === 'id' && peek(1)?.v === '=') {
          key = { kind: 'string', value: peek()!.v };
          p += 2;
        }
        entries.push({ key, value: value() });
        if (peek()?.v === ',' || peek()?.v === ';') p++;
      }
      p++;
      return { kind: 'table', entries };
    }
    return { kind: 'opaque', text: t.v };
  };

  while (p < toks.length) {
    const t = peek()!;
    if (t.t === 'id' && (t.v === 'VirtualHost' || t.v === 'Component') && peek(1)?.t === 'str') {
      section = { kind: t.v, name: peek(1)!.v };
      p += 2;
      if (peek()?.t === 'str') p++; // Component "name" "module"
      continue;
    }
    if (t.t === 'id' && t.v === 'local') {
      p++;
      continue;
    }
    if (t.t === 'id' && peek(1)?.v === '=') {
      p += 2;
      statements.push({ section, name: t.v, value: value(), line: t.line });
      continue;
    }
    p++;
  }
  return statements;
}

/** A table's entries as a string-keyed map (array-like entries are left out). */
export function tableMap(v: LuaValue | undefined): Map<string, LuaValue> {
  const m = new Map<string, LuaValue>();
  if (v?.kind !== 'table') return m;
  for (const e of v.entries) if (e.key?.kind === 'string') m.set(e.key.value, e.value);
  return m;
}

/** A table's array part as strings. */
export function tableStrings(v: LuaValue | undefined): string[] {
  if (v?.kind !== 'table') return [];
  return v.entries.filter((e) => e.key === undefined && e.value.kind === 'string').map((e) => (e.value as { value: string }).value);
}
