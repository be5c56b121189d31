// Statistics: requests, success rate and tokens over time by model, key, project or client token;
// error classes; an hour x weekday heatmap as a table; key survival. Range, bucket and grouping
// are in the URL.
import { html } from './vendor/preact.js';
import { api } from './api.js';
import { Chart, ErrorLine, go, num, pct, pivot, rangeOf, TZ, useLoad } from './ui.js';

const GROUPS = ['model', 'key', 'project', 'client'];

function Controls({ t, f }) {
  const set = (k) => (e) => go('stats', { ...f, [k]: e.target.value });
  return html`<form class="row filters" aria-label=${t.filters} onSubmit=${(e) => e.preventDefault()}>
    <label>${t.range} <select value=${f.since} onChange=${set('since')}>${['1h', '24h', '7d', '30d'].map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
    <label>${t.bucket} <select value=${f.bucket} onChange=${set('bucket')}><option value="hour">${t.hour}</option><option value="day">${t.day}</option></select></label>
    <label>${t.groupBy} <select value=${f.group_by} onChange=${set('group_by')}>${GROUPS.map((g) => html`<option value=${g}>${t[`by_${g}`]}</option>`)}</select></label>
  </form>`;
}

function Heatmap({ t, rows }) {
  const cell = new Map(rows.map((r) => [`${r.weekday}:${r.hour}`, r]));
  const max = Math.max(1, ...rows.map((r) => r.requests));
  const hours = [...Array(24).keys()];
  return html`<div class="scroll"><table class="heat" data-testid="heatmap">
    <caption>${t.heatmap}</caption>
    <thead><tr><th scope="col">${t.weekday}</th>${hours.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
    <tbody>${[1, 2, 3, 4, 5, 6, 7].map((d) => html`<tr><th scope="row">${t.weekdays[d - 1]}</th>${hours.map((h) => {
      const r = cell.get(`${d}:${h}`);
      const level = r ? Math.min(5, Math.ceil((r.requests / max) * 5)) : 0;
      return html`<td class=${`h${level}`} data-testid=${`heat-${d}-${h}`} title=${r ? `${r.requests} / ${r.ok} ${t.ok}` : ''}>${r ? r.requests : ''}</td>`;
    })}</tr>`)}</tbody>
  </table></div>`;
}

export function Stats({ t, query }) {
  const f = { since: query.since || '24h', bucket: query.bucket || 'hour', group_by: query.group_by || 'model' };
  const base = `since=${encodeURIComponent(f.since)}&bucket=${f.bucket}&tz=${TZ}`;
  const [usage, e1] = useLoad(() => api(`/api/stats/usage?${base}&group_by=${f.group_by}`), [base, f.group_by]);
  const [total, e2] = useLoad(() => api(`/api/stats/usage?${base}&group_by=none`), [base]);
  const [errors, e3] = useLoad(() => api(`/api/stats/errors?${base}`), [base]);
  const [heat, e4] = useLoad(() => api(`/api/stats/heatmap?since=${encodeURIComponent(f.since)}&tz=${TZ}`), [f.since]);
  const [keys, e5] = useLoad(() => api(`/api/stats/keys?${base}`), [base]);
  const u = usage?.rows ?? [];
  const tot = total?.rows ?? [];
  const req = pivot(u, (r) => r.requests);
  const rate = pivot(u, (r) => r.success_rate);
  const tok = pivot(u, (r) => r.tokens.prompt + r.tokens.output + r.tokens.thought);
  const lat = pivot(tot, (r) => r.p95_total_us / 1000, () => 'p95');
  const err = pivot(errors?.rows ?? [], (r) => r.count, (r) => r.error_class);
  const surv = pivot(keys?.rows ?? [], (r) => r.keys, (r) => t[r.state] ?? r.state);
  const range = rangeOf(total);
  const sum = (k) => tot.reduce((a, r) => a + k(r), 0);
  const reqs = sum((r) => r.requests);
  const ok = sum((r) => r.ok);
  return html`<section aria-labelledby="sh">
    <h1 id="sh">${t.stats}</h1>
    <${Controls} t=${t} f=${f} />
    <${ErrorLine} error=${e1 || e2 || e3 || e4 || e5} />
    <div class="cards">
      <div class="card" data-testid="stat-requests"><span class="label">${t.requests}</span><span class="value">${num(reqs)}</span></div>
      <div class="card" data-testid="stat-success"><span class="label">${t.successRate}</span><span class="value">${reqs ? pct(ok / reqs) : '–'}</span></div>
      <div class="card" data-testid="stat-tokens"><span class="label">${t.tokensCol}</span><span class="value">${num(sum((r) => r.tokens.prompt + r.tokens.output + r.tokens.thought))}</span></div>
    </div>
    <div class="two">
      <${Chart} t=${t} id="st-requests" range=${range} title=${`${t.requests} · ${t[`by_${f.group_by}`]}`} x=${req.x} series=${req.series} />
      <${Chart} t=${t} id="st-success" range=${range} title=${`${t.successRate} · ${t[`by_${f.group_by}`]}`} x=${rate.x} series=${rate.series} format=${pct} />
      <${Chart} t=${t} id="st-tokens" range=${range} title=${`${t.tokensCol} · ${t[`by_${f.group_by}`]}`} x=${tok.x} series=${tok.series} />
      <${Chart} t=${t} id="st-latency" range=${range} title=${t.latencyP95} x=${lat.x} series=${lat.series} format=${(v) => `${v.toFixed(1)} ms`} />
      <${Chart} t=${t} id="st-errors" range=${range} title=${t.errorClasses} x=${err.x} series=${err.series} />
      <${Chart} t=${t} id="st-keys" range=${range} title=${t.keySurvival} x=${surv.x} series=${surv.series} />
    </div>
    <${Heatmap} t=${t} rows=${heat?.rows ?? []} />
  </section>`;
}
