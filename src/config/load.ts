/**
 * Loads a policy file: YAML parsed with positions, validated against
 * config/schema.ts, secrets resolved from the environment or files. A broken
 * file yields every problem at once, each with its YAML path, line:column and
 * what is allowed. Secrets are kept out of every message. Secure defaults are
 * checked here, on resolved values: no upstream_secret may equal a component's
 * secret (unless allow_shared_secret), and literal secrets and files readable
 * by every user become warnings.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { PolicyError, type PolicyIssue } from '../errors.js';
import { normaliseDomain } from '../protocol/jid.js';
import { PUBSUB_NAMESPACES, PolicySchema, type ComponentPolicy, type Policy, type SecretSource } from './schema.js';

/** A component as the proxy needs it: normalised name, resolved secrets. */
export interface ComponentConfig {
  /** Normalised domain (lower case, NFKC). */
  name: string;
  /** The key as written in the policy, for messages and rule paths. */
  key: string;
  secret: string;
  upstreamSecret: string;
  policy: ComponentPolicy;
}

export interface LoadedPolicy {
  file: string;
  /** sha256 of the file's text (hex): which version of the file is in force. */
  revision: string;
  policy: Policy;
  /** Keyed by normalised component name. */
  components: ReadonlyMap<string, ComponentConfig>;
  /** Problems that do not stop privguard but that `check` and `run` report (shared or literal secrets, file modes). */
  warnings: readonly PolicyIssue[];
}

type Path = readonly PropertyKey[];

interface Source {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

export function loadPolicyFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = e instanceof Error && 'code' in e ? String(e.code) : String(e);
    throw new PolicyError(file, [{ path: '', line: 0, column: 0, message: `cannot read the policy file (${reason})` }]);
  }
  const loaded = loadPolicyText(text, file, env);
  const mode = fileMode(file);
  if (mode !== undefined && (mode & 0o004) !== 0) {
    const warnings = [
      { path: '', line: 0, column: 0, message: `the policy file is readable by every user (mode ${octal(mode)}); chmod o-r ${file}` },
      ...loaded.warnings,
    ];
    return { ...loaded, warnings: Object.freeze(warnings) };
  }
  return loaded;
}

function fileMode(file: string): number | undefined {
  try {
    return statSync(file).mode & 0o777;
  } catch {
    return undefined;
  }
}

const octal = (mode: number) => `0${mode.toString(8).padStart(3, '0')}`;

export function loadPolicyText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const src: Source = { file, doc, lines };
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { path: '', line: pos.line, column: pos.col, message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const parsed = PolicySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new PolicyError(file, parsed.error.issues.flatMap((i) => describeIssue(src, i)).sort(byPosition));
  }
  const policy = parsed.data;
  const issues: PolicyIssue[] = [];
  const warnings: PolicyIssue[] = [];
  const components = new Map<string, ComponentConfig>();
  const resolved: { key: string; secret?: string; upstream?: string; allowShared: boolean }[] = [];
  for (const [key, comp] of Object.entries(policy.components)) {
    const secret = resolveSecret(src, comp.secret, ['components', key, 'secret'], env, issues, warnings);
    const upstreamSecret = resolveSecret(src, comp.upstream_secret, ['components', key, 'upstream_secret'], env, issues, warnings);
    resolved.push({ key, secret, upstream: upstreamSecret, allowShared: comp.allow_shared_secret });
    const name = normaliseDomain(key)!; // validated by the schema
    components.set(name, { name, key, secret: secret ?? '', upstreamSecret: upstreamSecret ?? '', policy: comp });
  }
  checkSharedSecrets(src, resolved, issues, warnings);
  for (const [key, comp] of Object.entries(policy.components)) checkPubsubNodeScopes(src, key, comp, warnings);
  if (issues.length > 0) throw new PolicyError(file, issues.sort(byPosition));
  return {
    file,
    revision: createHash('sha256').update(text).digest('hex'),
    policy: deepFreeze(policy),
    components,
    warnings: Object.freeze(warnings.sort(byPosition)),
  };
}

/**
 * A component that knows the server's secret for some component can connect
 * to the server itself, and privguard is no longer in the path. So no
 * upstream_secret may equal any component's secret, its own included.
 */
function checkSharedSecrets(
  src: Source,
  resolved: readonly { key: string; secret?: string; upstream?: string; allowShared: boolean }[],
  issues: PolicyIssue[],
  warnings: PolicyIssue[],
): void {
  for (const a of resolved) {
    if (a.upstream === undefined) continue;
    for (const b of resolved) {
      if (b.secret === undefined || b.secret !== a.upstream) continue;
      const path = ['components', a.key, 'upstream_secret'];
      const whose = b === a ? 'the same as its secret' : `the same as the secret of component ${b.key}`;
      if (a.allowShared) {
        warnings.push(at(src, path, `upstream_secret is ${whose} (allowed by allow_shared_secret): that component can connect to the server without privguard`));
      } else {
        issues.push(
          at(
            src,
            path,
            `upstream_secret is ${whose}: that component could connect to the server without privguard; give the server a secret no component knows (or set allow_shared_secret: true)`,
          ),
        );
      }
    }
  }
}

/**
 * The two pubsub namespaces reach the same nodes: narrowing `nodes` on one
 * while the other may write every node leaves the narrowed nodes open (the
 * owner namespace reconfigures, purges or deletes them, and can open a node
 * to publishers; the plain one publishes to them). A warning, not an error:
 * the policy means what it says, but rarely what was meant.
 */
function checkPubsubNodeScopes(src: Source, key: string, comp: ComponentPolicy, warnings: PolicyIssue[]): void {
  const [plain, owner] = PUBSUB_NAMESPACES;
  for (const [domain, p] of Object.entries(comp.privileges)) {
    const scopeOf = (ns: string) => {
      const g = p.iq[ns];
      if (g === undefined) return undefined;
      const type = typeof g === 'string' ? g : g.type;
      const nodes = typeof g === 'string' ? undefined : g.nodes;
      return { writes: type === 'set' || type === 'both', every: nodes === undefined || nodes.includes('*'), nodes };
    };
    for (const [narrow, wide] of [
      [plain, owner],
      [owner, plain],
    ] as const) {
      const n = scopeOf(narrow);
      const w = scopeOf(wide);
      if (!n || n.every || !w?.writes || !w.every) continue;
      warnings.push(
        at(
          src,
          ['components', key, 'privileges', domain, 'iq', wide],
          `iq "${wide}" reaches every node while iq "${narrow}" is narrowed to nodes ${JSON.stringify(n.nodes)}: the nodes left out are reachable through "${wide}"; give it nodes too`,
        ),
      );
    }
  }
}

function resolveSecret(
  src: Source,
  source: SecretSource,
  path: Path,
  env: NodeJS.ProcessEnv,
  issues: PolicyIssue[],
  warnings: PolicyIssue[],
): string | undefined {
  if (typeof source === 'string') {
    const key = String(path[path.length - 1]);
    warnings.push(at(src, path, `${key} is written in the policy file; keep it out with { env: NAME } or { file: PATH }`));
    return source;
  }
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') {
      issues.push(at(src, [...path, 'env'], `environment variable ${source.env} is not set (or empty)`));
      return undefined;
    }
    return value;
  }
  const file = resolve(dirname(src.file), source.file);
  try {
    const value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (value === '') {
      issues.push(at(src, [...path, 'file'], `secret file ${file} is empty`));
      return undefined;
    }
    const mode = fileMode(file);
    if (mode !== undefined && (mode & 0o004) !== 0) {
      warnings.push(at(src, [...path, 'file'], `secret file ${file} is readable by every user (mode ${octal(mode)}); chmod o-r ${file}`));
    }
    return value;
  } catch (e) {
    const reason = e instanceof Error && 'code' in e ? String(e.code) : 'unreadable';
    issues.push(at(src, [...path, 'file'], `cannot read secret file ${file} (${reason})`));
    return undefined;
  }
}

function byPosition(a: PolicyIssue, b: PolicyIssue): number {
  return a.line - b.line || a.column - b.column;
}

function pathString(path: Path): string {
  return path.map(String).join('.');
}

/** The YAML node at `path`, or its nearest existing ancestor. */
function nodeAt(doc: Document.Parsed, path: Path): { node: YamlNode | undefined; exact: boolean } {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node) return { node: node as YamlNode, exact: n === path.length };
  }
  return { node: undefined, exact: false };
}

/** The key node of `key` inside the map at `path` (for unknown keys). */
function keyNodeAt(doc: Document.Parsed, path: Path, key: string): YamlNode | undefined {
  const map = path.length === 0 ? doc.contents : doc.getIn(path as PropertyKey[], true);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === key) return pair.key;
  }
  return undefined;
}

function position(src: Source, node: YamlNode | undefined): { line: number; column: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const pos = src.lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function at(src: Source, path: Path, message: string, node?: YamlNode): PolicyIssue {
  const target = node ?? nodeAt(src.doc, path).node;
  return { path: pathString(path), ...position(src, target), message };
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value;
}

function describeIssue(src: Source, issue: z.core.$ZodIssue): PolicyIssue[] {
  const path = issue.path;
  const { node, exact } = nodeAt(src.doc, path);
  const value: unknown = exact ? src.doc.getIn(path) : undefined;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(path);
      const hint = allowed.length > 0 ? `; allowed here: ${allowed.join(', ')}` : '';
      return issue.keys.map((k) =>
        at(src, [...path, k], `unknown key "${k}"${hint}`, keyNodeAt(src.doc, path, k)),
      );
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String).join(', ');
      return [at(src, path, `${describeValue(value)} is not one of ${allowed}`, node)];
    }
    case 'invalid_type': {
      if (!exact) return [at(src, path, `missing required key "${String(path[path.length - 1])}" (${issue.expected})`, node)];
      return [at(src, path, `expected ${issue.expected}, got ${describeValue(value)}`, node)];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? 'at least' : 'at most';
      const what = issue.origin === 'string' || issue.origin === 'array' ? ' in length' : '';
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      return [at(src, path, `${describeValue(value)} must be ${bound} ${String(limit)}${what}`, node)];
    }
    case 'invalid_union':
      if (!exact && path[path.length - 1] === 'upstream_secret') {
        return [at(src, path, 'missing required key "upstream_secret": the secret the XMPP server has for this component, which the component must not know ({ env: NAME }, { file: PATH } or a string)', node)];
      }
      if (!exact) return [at(src, path, `missing required key "${String(path[path.length - 1])}" (${issue.message})`, node)];
      return [at(src, path, `${issue.message}, got ${describeValue(value)}`, node)];
    default:
      return [at(src, path, issue.message, node)];
  }
}

/** The keys the schema allows at `path` (for "unknown key" messages). */
function allowedKeys(path: Path): string[] {
  let schema: z.ZodType | undefined = PolicySchema;
  for (const key of path) {
    schema = schema ? childSchema(unwrap(schema), key) : undefined;
  }
  const target = schema ? unwrap(schema) : undefined;
  return target instanceof z.ZodObject ? Object.keys(target.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.def.innerType as z.ZodType;
  return s;
}

function childSchema(schema: z.ZodType, key: PropertyKey): z.ZodType | undefined {
  if (schema instanceof z.ZodObject) return (schema.shape as Record<string, z.ZodType>)[String(key)];
  if (schema instanceof z.ZodRecord) return schema.def.valueType as z.ZodType;
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
