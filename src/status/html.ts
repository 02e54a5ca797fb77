/**
 * The status page as one self-contained HTML document: inline CSS, no
 * script, no external asset, refreshed by the browser every few seconds
 * (meta refresh), so it works with JavaScript off and behind any proxy.
 * Every value is escaped: component names, users and reasons come from
 * outside. Denials are set in red; an effective right narrower than the
 * server's grant is marked, and so is a policy that asks for more than the
 * server gives.
 */
import type { ComponentStatus, Denial, DomainStatus, RightRow, Status } from './model.js';

export const REFRESH_SECONDS = 5;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const h = escapeHtml;

/** "3 s ago", "2 min ago", "5 h ago" between two ISO times. */
function ago(iso: string, now: string): string {
  const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function time(iso: string, now: string): string {
  return `<time datetime="${h(iso)}" title="${h(iso)}">${h(iso.slice(11, 19))} UTC</time> <span class="muted">(${ago(iso, now)})</span>`;
}

const CSS = `
:root{color-scheme:light;--red:#b3261e;--red-bg:#fdecea;--amber:#8a5a00;--amber-bg:#fff4dc;--green:#1e6b34;--green-bg:#e7f5ea;--line:#d9dce1;--muted:#5f6670}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2127;background:#f6f7f9}
header{background:#1d2733;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;gap:8px 32px;align-items:baseline}
header h1{font-size:18px;margin:0}
header .meta{color:#c9d1db;font-size:13px}
main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px}
h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;background:#f0f2f5;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.up{background:var(--green-bg);color:var(--green)}
.down{background:var(--red-bg);color:var(--red)}
.warn{background:var(--amber-bg);color:var(--amber)}
.facts{display:flex;flex-wrap:wrap;gap:4px 24px;margin:4px 0 8px}
tr.narrowed td.effective{background:var(--amber-bg);color:var(--amber);font-weight:600}
tr.capped td.policy{background:var(--amber-bg);color:var(--amber)}
tr.none td{color:var(--muted)}
td.mark{font-size:12px;color:var(--amber);white-space:nowrap}
.denials tr td{background:var(--red-bg)}
.denials tr.would_deny td{background:var(--amber-bg)}
.denials td.verdict{color:var(--red);font-weight:700}
.denials tr.would_deny td.verdict{color:var(--amber)}
td.denied{color:var(--red);font-weight:700}
.errors{color:var(--red)}
.scope{font-size:12px;color:var(--muted);font-weight:400}
.empty{color:var(--muted);font-style:italic}
`;

const MARK_TEXT: Record<RightRow['mark'], string> = {
  same: '',
  none: '',
  narrowed: '▼ narrower than the server grants',
  capped: '▲ policy asks more than the server grants',
};

function rightsTable(c: ComponentStatus, d: DomainStatus): string {
  if (d.rights.length === 0) return '<p class="empty">No rights named for this domain.</p>';
  const rows = d.rights
    .map(
      (r) =>
        `<tr class="${r.mark}" data-right="${h(r.name)}"><th scope="row" class="mono">${h(r.name)}</th>` +
        `<td class="server">${r.server === null ? '<span class="muted">not advertised yet</span>' : h(r.server)}</td>` +
        `<td class="policy">${h(r.policy)}${r.scope === null ? '' : `<div class="scope">${h(r.scope)}</div>`}</td><td class="effective">${h(r.effective)}</td><td class="mark">${MARK_TEXT[r.mark]}</td></tr>`,
    )
    .join('');
  return (
    `<table class="rights" data-component="${h(c.name)}" data-domain="${h(d.domain)}"><thead><tr><th>right</th>` +
    `<th>server grants</th><th>policy allows</th><th>effective (told to the component)</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

function versionText(v: { privilege: number | null; delegation: number | null }): string {
  return `privilege:${v.privilege ?? '?'} delegation:${v.delegation ?? '?'}`;
}

function domainBlock(c: ComponentStatus, d: DomainStatus): string {
  const scope = d.users.length > 0 ? `users ${d.users.map((u) => `<code>${h(u)}</code>`).join(' ')}${d.except_users.length > 0 ? ` except ${d.except_users.map((u) => `<code>${h(u)}</code>`).join(' ')}` : ''}` : '';
  return (
    `<h3>${h(d.domain)} ${d.advertised ? '' : '<span class="badge warn">no advertisement yet</span>'}</h3>` +
    `<div class="facts"><span>server speaks <code>${versionText(d.versions.server)}</code></span>` +
    `<span>component is spoken to in <code>${versionText(d.versions.component)}</code></span>${scope ? `<span>${scope}</span>` : ''}</div>` +
    rightsTable(c, d)
  );
}

function pendingText(p: { count: number; oldest_age_ms: number | null }): string {
  return p.count === 0 ? '0' : `${p.count} (oldest ${Math.round((p.oldest_age_ms ?? 0) / 100) / 10} s)`;
}

function countersTable(c: ComponentStatus): string {
  if (c.counters.length === 0) return '<p class="empty">No decisions yet.</p>';
  const rows = c.counters
    .map((k) => `<tr><td class="mono">${h(k.action)}</td><td class="num">${k.allowed}</td><td class="num${k.denied > 0 ? ' denied' : ''}">${k.denied}</td><td class="num">${k.would_deny}</td></tr>`)
    .join('');
  return `<table class="counters"><thead><tr><th>action</th><th>allowed</th><th>denied</th><th>would deny</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function componentSection(c: ComponentStatus, now: string): string {
  const state = c.connected ? '<span class="badge up">connected</span>' : '<span class="badge down">not connected</span>';
  const since = c.since ? `${c.connected ? 'since' : 'gone since'} ${time(c.since, now)}` : '<span class="muted">never connected</span>';
  const rate = c.rate ? `rate ${c.rate.per_second}/s, burst ${c.rate.burst}${c.rate.held_back ? ' <span class="badge warn">held back now</span>' : ''}` : 'no rate limit';
  return (
    `<section class="component" id="component-${h(c.name)}" data-component="${h(c.name)}" data-connected="${c.connected}">` +
    `<h2><code>${h(c.name)}</code> ${state}</h2>` +
    `<div class="facts"><span>${since}</span><span>reconnects: ${c.reconnects}</span><span>${rate}</span>` +
    `<span>pending privileged IQs: ${pendingText(c.pending.privileged)}</span><span>pending delegated IQs: ${pendingText(c.pending.delegated)}</span></div>` +
    c.domains.map((d) => domainBlock(c, d)).join('') +
    `<h3>Decisions</h3>${countersTable(c)}</section>`
  );
}

function denialRow(d: Denial, now: string): string {
  return (
    `<tr class="${d.verdict}"><td>${time(d.time, now)}</td><td class="verdict">${d.verdict === 'denied' ? 'denied' : 'would deny'}</td>` +
    `<td class="mono">${h(d.component)}</td><td class="mono">${h(d.action)}${d.namespace ? ` <span class="muted">${h(d.namespace)}</span>` : ''}</td>` +
    `<td>${d.user === null ? '' : h(d.user)}${d.domain ? `<span class="muted">@${h(d.domain)}</span>` : ''}</td>` +
    `<td class="mono">${h(d.reason)}</td><td class="mono">${d.rule === null ? '<span class="muted">protocol / server grant</span>' : h(d.rule)}</td></tr>`
  );
}

function denialsSection(s: Status): string {
  const body =
    s.denials.length === 0
      ? '<p class="empty">No denials since privguard started.</p>'
      : `<table class="denials" id="denials"><thead><tr><th>time</th><th>verdict</th><th>component</th><th>action</th><th>user</th><th>reason</th><th>rule</th></tr></thead><tbody>${s.denials.map((d) => denialRow(d, s.generated_at)).join('')}</tbody></table>`;
  return `<section id="denials-section"><h2>Last denials <span class="muted">(newest first, up to 50)</span></h2>${body}</section>`;
}

function policySection(s: Status): string {
  const p = s.policy;
  const r = p.last_reload;
  const reload = !r
    ? '<span class="muted">no reload since start</span>'
    : r.ok
      ? `last reload ${time(r.at, s.generated_at)} <span class="badge up">ok</span>`
      : `last reload ${time(r.at, s.generated_at)} <span class="badge down">failed</span>, the previous policy stays in force` +
        `<ul class="errors">${r.errors.map((e) => `<li><code>${h(p.file)}:${e.line}:${e.column}</code> ${h(e.path || '(root)')}: ${h(e.message)}</li>`).join('')}</ul>`;
  return (
    `<section id="policy"><h2>Policy</h2><div class="facts"><span>file <code>${h(p.file)}</code></span><span>revision <code title="${h(p.revision)}">${h(p.revision.slice(0, 12))}</code></span>` +
    `<span>loaded ${time(p.loaded_at, s.generated_at)}</span><span>mode <b>${p.mode}</b></span></div><div>${reload}</div></section>`
  );
}

export function renderStatusHtml(s: Status): string {
  const connected = s.components.filter((c) => c.connected).length;
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${REFRESH_SECONDS}">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>privguard status</title><style>${CSS}</style></head><body>` +
    `<header><h1>privguard</h1><span class="meta">${connected} of ${s.components.length} components connected</span>` +
    `<span class="meta">started ${h(s.started_at)}</span><span class="meta">page generated ${h(s.generated_at)}, refreshes every ${REFRESH_SECONDS} s</span></header><main>` +
    denialsSection(s) +
    s.components.map((c) => componentSection(c, s.generated_at)).join('') +
    policySection(s) +
    `</main></body></html>`
  );
}
