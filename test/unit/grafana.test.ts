/**
 * deploy/grafana/privguard.json: every PromQL expression in it parses (the
 * Prometheus project's own grammar, @prometheus-io/lezer-promql), and every
 * metric it names is one privguard exports, as read from a live registry's
 * /metrics text (histogram series included). A renamed metric breaks this test
 * instead of an admin's dashboard.
 */
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { createMetrics, METRIC_NAMES } from '../../src/observe/metrics.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync('deploy/grafana/privguard.json', 'utf8')) as Dashboard;

/** Grafana's interval variables, which Grafana replaces with a duration before Prometheus sees the query. */
const substitute = (expr: string) => expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m');

/** Names privguard exports: the # TYPE lines of a registry's text, with a histogram's _bucket/_sum/_count series. */
async function exportedNames(): Promise<Set<string>> {
  const { text } = await (await createMetrics()).render();
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    names.add(name!);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
  }
  return names;
}

/** The metric names a PromQL expression selects; throws with the position of a syntax error. */
function metricNames(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const errors: number[] = [];
  tree.iterate({
    enter(n) {
      if (n.type.isError) errors.push(n.from);
      if (n.name === 'VectorSelector') {
        const id = n.node.getChild('Identifier');
        if (id) names.push(expr.slice(id.from, id.to));
        // {__name__="..."} selects by name too
        for (const m of expr.slice(n.from, n.to).matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.push(m[1]!);
      }
    },
  });
  if (errors.length > 0) throw new Error(`PromQL syntax error at offset ${errors[0]} of: ${expr}`);
  return names;
}

/** Every query in the dashboard: panel targets, and label_values(<selector>, label) of query variables. */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\)$/.exec(q);
    expect(m, `variable ${v.name}: ${q}`).not.toBeNull();
    out.push({ where: `variable ${v.name}`, expr: m![1]! });
  }
  return out;
}

describe('deploy/grafana/privguard.json', () => {
  it('every PromQL expression parses and names only metrics privguard exports', async () => {
    const exported = await exportedNames();
    const all = queries();
    expect(all.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const q of all) {
      const names = metricNames(substitute(q.expr));
      expect(names.length, `${q.where} names no metric: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) {
        expect(exported.has(n), `${q.where} uses ${n}, which privguard does not export`).toBe(true);
        used.add(n.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    // the list: components connected, stanzas by direction, decisions by verdict and reason, pending IQs, latency, reloads
    for (const n of METRIC_NAMES) expect(used.has(n), `no panel shows ${n}`).toBe(true);
  });

  it('the checker itself: catches a syntax error and a metric privguard does not export', async () => {
    expect(() => metricNames('sum(rate(privguard_stanzas_total[5m])')).toThrow(/syntax error/);
    expect(metricNames('sum by (le) (rate(privguard_decision_seconds_bucket{instance=~"a"}[5m])) / privguard_x')).toEqual([
      'privguard_decision_seconds_bucket',
      'privguard_x',
    ]);
    expect((await exportedNames()).has('privguard_stanza_total')).toBe(false);
  });

  it('is a dashboard Grafana can import: unique panel ids, every query on the data source variable', () => {
    expect(dashboard.uid).toBe('privguard');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    for (const p of dashboard.panels) {
      expect(p.gridPos.w, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
  });
});
