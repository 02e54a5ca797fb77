/**
 * The file format of `privguard test`: a YAML list of cases, each a stanza,
 * the side that sends it, the server's grant and the expected decision.
 * Loaded like a policy: YAML with positions, a zod schema, and every problem
 * reported at once with its path and line:column; the stanzas and grant
 * advertisements are parsed here too, so a broken one is a file error, not a
 * failed case.
 */
import { readFileSync } from 'node:fs';
import type { Element } from '@xmpp/xml';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { PolicyError, PrivguardError, type PolicyIssue } from '../errors.js';
import { parseStanzaText } from '../explain.js';

export const SERVER_DEFAULT = 'server default';
export const EXPECTATIONS = ['allow', 'deny', 'filter'] as const;
export type Expectation = (typeof EXPECTATIONS)[number];

export const CaseSchema = z.strictObject({
  name: z.string().min(1),
  /** A component of the policy (its JID). */
  component: z.string().min(1),
  /** "server default": the server grants what the policy asks; or the server's advertisement(s) as XML. */
  grant: z.string().min(1).default(SERVER_DEFAULT),
  /** With "server default": the privilege namespace version the server speaks. */
  version: z.union([z.literal(1), z.literal(2)]).optional(),
  /** Which side sends the stanza. */
  from: z.enum(['component', 'server']),
  stanza: z.string().min(1),
  /** Delegated IQs privguard forwarded to the component earlier (to test its replies). */
  pending: z.string().min(1).optional(),
  expect: z.enum(EXPECTATIONS),
  /** The audit reason, e.g. policy_denied. */
  reason: z.string().min(1).optional(),
  /** The YAML path of the rule that decides, e.g. components.gw.example.org.privileges.example.org.roster. */
  rule: z.string().min(1).optional(),
});

export const CasesSchema = z.array(CaseSchema).min(1);

export interface TestCase extends Omit<z.infer<typeof CaseSchema>, 'stanza' | 'grant' | 'pending'> {
  /** The stanza as written, for messages. */
  source: string;
  stanza: Element;
  /** undefined: "server default". */
  grant: Element[] | undefined;
  pending: Element[] | undefined;
  /** Where the case starts in its file, and where its component is named. */
  line: number;
  column: number;
  componentAt: { line: number; column: number };
}

type Path = readonly (string | number)[];

function position(doc: Document.Parsed, lines: LineCounter, path: Path): { line: number; column: number } {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node) {
      const offset = (node as { range?: [number, number, number] }).range?.[0];
      if (offset !== undefined) {
        const p = lines.linePos(offset);
        return { line: p.line, column: p.col };
      }
    }
  }
  return { line: 1, column: 1 };
}

/** An unknown key is pointed at by its key, not its value. */
function keyPosition(doc: Document.Parsed, lines: LineCounter, path: Path, key: string): { line: number; column: number } | undefined {
  const map = doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) {
      const p = lines.linePos(pair.key.range[0]);
      return { line: p.line, column: p.col };
    }
  }
  return undefined;
}

function issueAt(doc: Document.Parsed, lines: LineCounter, path: Path, message: string): PolicyIssue {
  return { path: path.map(String).join('.'), ...position(doc, lines, path), message };
}

function zodMessage(i: z.core.$ZodIssue, present: boolean): string {
  const key = String(i.path[i.path.length - 1] ?? '');
  switch (i.code) {
    case 'unrecognized_keys':
      return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}; allowed: ${Object.keys(CaseSchema.shape).join(', ')}`;
    case 'invalid_value':
      return `must be one of ${i.values.map(String).join(', ')}`;
    case 'invalid_type':
      return present ? `expected ${i.expected}` : `missing required key "${key}" (${i.expected})`;
    case 'too_small':
      return i.origin === 'array' ? 'a tests file is a list of at least one case' : 'must not be empty';
    default:
      return i.message;
  }
}

export function loadCasesFile(file: string): TestCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    throw new PolicyError(file, [{ path: '', line: 0, column: 0, message: `cannot read the tests file (${reason})` }]);
  }
  return loadCasesText(text, file);
}

export function loadCasesText(text: string, file: string): TestCase[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => {
        const p = lines.linePos(e.pos[0]);
        return { path: '', line: p.line, column: p.col, message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const parsed = CasesSchema.safeParse(doc.toJS() ?? null);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const path = i.path.map((k) => (typeof k === 'number' ? k : String(k)));
      if (i.code === 'unrecognized_keys') {
        const key = i.keys[0]!;
        const at = keyPosition(doc, lines, path, key) ?? position(doc, lines, path);
        return { path: [...path, key].join('.'), ...at, message: zodMessage(i, true) };
      }
      return issueAt(doc, lines, path, zodMessage(i, doc.hasIn(path)));
    });
    throw new PolicyError(file, issues);
  }
  const issues: PolicyIssue[] = [];
  const xmlAt = (index: number, key: string, xml: string): Element[] | undefined => {
    try {
      return parseStanzaText(xml, key);
    } catch (e) {
      issues.push(issueAt(doc, lines, [index, key], e instanceof PrivguardError ? e.message : String(e)));
      return undefined;
    }
  };
  const cases = parsed.data.map((c, index): TestCase | undefined => {
    const stanzas = xmlAt(index, 'stanza', c.stanza);
    if (stanzas && stanzas.length !== 1) issues.push(issueAt(doc, lines, [index, 'stanza'], `holds ${stanzas.length} stanzas; a case has exactly one`));
    const grant = c.grant.trim() === SERVER_DEFAULT ? undefined : xmlAt(index, 'grant', c.grant);
    if (c.grant.trim() !== SERVER_DEFAULT && c.version !== undefined) issues.push(issueAt(doc, lines, [index, 'version'], `version applies to "${SERVER_DEFAULT}" only (an advertisement says its own)`));
    const pending = c.pending === undefined ? undefined : xmlAt(index, 'pending', c.pending);
    if (!stanzas?.[0] || (c.grant.trim() !== SERVER_DEFAULT && !grant) || (c.pending !== undefined && !pending)) return undefined;
    return {
      name: c.name,
      component: c.component,
      ...(c.version !== undefined ? { version: c.version } : {}),
      from: c.from,
      expect: c.expect,
      ...(c.reason !== undefined ? { reason: c.reason } : {}),
      ...(c.rule !== undefined ? { rule: c.rule } : {}),
      source: c.stanza,
      stanza: stanzas[0],
      grant,
      pending,
      ...position(doc, lines, [index]),
      componentAt: position(doc, lines, [index, 'component']),
    };
  });
  if (issues.length > 0) throw new PolicyError(file, issues.sort((a, b) => a.line - b.line || a.column - b.column));
  return cases.filter((c): c is TestCase => c !== undefined);
}
