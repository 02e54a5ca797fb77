/**
 * `privguard test`: runs each case through the engine `run` and `explain` run
 * (explain's offline Link: the policy compiled, the server's grant and the
 * pending requests fed in, then the stanza judged from the side that sends
 * it, translation included) and compares
 * the decision with what the case expects (see expectationOf).
 */
import type { LoadedPolicy } from '../config/load.js';
import { PolicyError, type PolicyIssue } from '../errors.js';
import { explainElements } from '../explain.js';
import { normaliseDomain } from '../protocol/jid.js';
import type { Verdict } from '../policy/verdict.js';
import type { Expectation, TestCase } from './cases.js';

export interface Outcome {
  expect: Expectation;
  reason: string;
  rule: string | null;
}

export interface CaseResult {
  case: TestCase;
  ok: boolean;
  actual: Outcome;
  /** The decision's text (what an error stanza would say). */
  text: string;
}

export function outcomeOf(v: Verdict): Outcome {
  return { expect: expectationOf(v), reason: v.reason, rule: v.rule?.path ?? null };
}

/**
 * What an admin means by each word: a delegated reply rebuilt from its judged
 * parts (reason ok) carries what the component said, so it is `allow`; an
 * advertisement cut to the effective rights, or roster content hidden by
 * roster_items, is `filter`.
 */
function expectationOf(v: Verdict): Expectation {
  switch (v.action) {
    case 'pass':
      return 'allow';
    case 'rewrite':
      return v.reason === 'ok' ? 'allow' : 'filter';
    case 'filter':
      return 'filter';
    default:
      return 'deny';
  }
}

/** Cases naming a component the policy does not have are errors of the file (with line:column), not failures. */
export function checkComponents(policy: LoadedPolicy, file: string, cases: readonly TestCase[]): void {
  const issues: PolicyIssue[] = [];
  for (const [i, c] of cases.entries()) {
    const name = normaliseDomain(c.component);
    if (name === undefined || !policy.components.has(name)) {
      issues.push({ path: `${i}.component`, ...c.componentAt, message: `"${c.component}" is not a component of ${policy.file} (it has: ${[...policy.components.keys()].join(', ')})` });
    }
  }
  if (issues.length > 0) throw new PolicyError(file, issues);
}

export function runCase(policy: LoadedPolicy, c: TestCase): CaseResult {
  const [explained] = explainElements({
    policy,
    component: c.component,
    direction: c.from === 'component' ? 'to-server' : 'to-component',
    stanzas: [c.stanza],
    ...(c.grant ? { advertised: c.grant } : {}),
    ...(c.version !== undefined ? { version: c.version } : {}),
    ...(c.pending ? { pending: c.pending } : {}),
  });
  const actual = outcomeOf(explained!.verdict);
  const ok = actual.expect === c.expect && (c.reason === undefined || c.reason === actual.reason) && (c.rule === undefined || c.rule === actual.rule);
  return { case: c, ok, actual, text: explained!.text };
}

function expectedText(c: TestCase): string {
  return [c.expect, ...(c.reason !== undefined ? [`reason ${c.reason}`] : []), ...(c.rule !== undefined ? [`rule ${c.rule}`] : [])].join(', ');
}

function actualText(o: Outcome): string {
  return `${o.expect}, reason ${o.reason}, rule ${o.rule ?? '(none: the protocol or the server grant decided)'}`;
}

/** The lines `privguard test` prints for one case: ✓ name, or ✗ name with expected and actual. */
export function formatResult(r: CaseResult, file: string): string[] {
  if (r.ok) return [`  ✓ ${r.case.name}`];
  const stanza = r.case.source.trim().replace(/\s+/g, ' ');
  return [
    `  ✗ ${r.case.name}  (${file}:${r.case.line}:${r.case.column})`,
    `      expected: ${expectedText(r.case)}`,
    `      actual:   ${actualText(r.actual)}`,
    `      text:     ${r.text}`,
    `      stanza:   ${stanza.length > 200 ? `${stanza.slice(0, 197)}...` : stanza}`,
  ];
}
