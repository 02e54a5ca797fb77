import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditLine, createAuditSink } from '../../../src/observe/audit.js';

describe('audit file sink', () => {
  it('appends one JSON line per record, flat, without absent keys', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pg-audit-')), 'audit.jsonl');
    const sink = createAuditSink({ file });
    sink.write({ component: 'c.example.org', action: 'roster.get', verdict: 'allowed', reason: 'ok', domain: 'example.org', user: 'alice', stanza_id: 'x' });
    await sink.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(rec).sort()).toEqual(['action', 'component', 'domain', 'reason', 'stanza_id', 'time', 'type', 'user', 'verdict']);
    expect(rec.type).toBe('decision');
    expect(rec.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('reopens the file after rotation: old records stay in the moved file, new ones go to a new file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-audit-'));
    const file = join(dir, 'audit.jsonl');
    const sink = createAuditSink({ file });
    sink.write({ component: 'c', action: 'a', verdict: 'denied', reason: 'before' });
    renameSync(file, `${file}.1`);
    await sink.reopen();
    sink.write({ component: 'c', action: 'a', verdict: 'denied', reason: 'after' });
    await sink.close();
    expect(readFileSync(`${file}.1`, 'utf8')).toContain('"reason":"before"');
    expect(readFileSync(`${file}.1`, 'utf8')).not.toContain('"reason":"after"');
    expect(readFileSync(file, 'utf8')).toContain('"reason":"after"');
  });
});

describe('audit lines', () => {
  it('are valid JSON with the keys in one fixed order, whatever the values hold', () => {
    const line = auditLine({
      stanza_id: 'i"d\n',
      field: 'from',
      namespace: 'urn:x',
      rule: 'components.c.privileges',
      reason: 'policy_denied',
      verdict: 'denied',
      action: 'roster.set',
      user: 'al\u2028ice"',
      domain: 'example.org',
      component: 'c\\x',
    });
    expect(line.endsWith('}\n')).toBe(true);
    const rec = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(rec)).toEqual(['type', 'time', 'component', 'domain', 'user', 'action', 'verdict', 'reason', 'rule', 'namespace', 'field', 'stanza_id']);
    expect(rec).toMatchObject({ component: 'c\\x', user: 'al\u2028ice"', stanza_id: 'i"d\n' });
  });

  it('write every value as JSON.stringify would, escaped or not', () => {
    for (const v of ['plain', 'quo"te', 'back\\slash', 'nl\n', '\u0001', 'é😀', '\ud800', '\u2029', '']) {
      const rec = JSON.parse(auditLine({ component: v, action: v, verdict: 'allowed', reason: v, rule: v })) as Record<string, unknown>;
      expect([rec.component, rec.action, rec.reason, rec.rule]).toEqual([v, v, v, v]);
    }
  });
});

describe('audit lines in a row', () => {
  it("each is the JSON of its own record, whether it repeats the last one's component, user, action and reason or not", () => {
    type R = Parameters<typeof auditLine>[0];
    const base: R = { component: 'c.example.org', domain: 'example.org', user: 'alice', action: 'message.outgoing', verdict: 'allowed', reason: 'ok', stanza_id: 'p1' };
    const records: R[] = [
      base,
      { ...base, stanza_id: 'p2' },
      { ...base, user: 'bob', stanza_id: 'p3' },
      { ...base, user: undefined, stanza_id: 'p4' },
      { ...base, domain: undefined, user: undefined },
      { ...base, verdict: 'denied', reason: 'user_out_of_scope', rule: 'components.c.users' },
      { ...base, action: 'iq.get', namespace: 'urn:x' },
      { ...base, component: 'd.example.org' },
      { component: '', action: '', verdict: 'allowed', reason: '' },
      base,
    ];
    const order = ['type', 'time', 'component', 'domain', 'user', 'action', 'verdict', 'reason', 'rule', 'namespace', 'field', 'stanza_id', 'hidden'];
    for (const r of records) {
      const rec = JSON.parse(auditLine(r)) as Record<string, unknown>;
      const { type, time, ...rest } = rec;
      expect([type, typeof time]).toEqual(['decision', 'string']);
      expect(rest).toEqual(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
      expect(Object.keys(rec)).toEqual(order.filter((k) => k in rec));
    }
  });
});

describe('audit file errors', () => {
  it('says at once when the audit file cannot be opened', () => {
    expect(() => createAuditSink({ file: '/nonexistent-dir/audit.jsonl' })).toThrow(/PG_AUDIT_UNAVAILABLE|cannot open the audit file \/nonexistent-dir\/audit.jsonl/);
  });
});
