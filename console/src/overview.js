// Overview: keys by state and project, cooling pairs counting down, the last day's requests and
// error rate, tokens by model, and the gateway's own overhead.
import { html } from './vendor/preact.js';
import { api } from './api.js';
import { Chart, ErrorLine, href, msOf, num, pct, pivot, rangeOf, span, TZ, useLoad, useNow } from './ui.js';

export function Overview({ t }) {
  const [st, error] = useLoad(() => api('/api/status'), [], 5000);
  const [usage] = useLoad(() => api(`/api/stats/usage?since=24h&group_by=none&bucket=hour&tz=${TZ}`), [], 30000);
  const [byModel] = useLoad(() => api(`/api/stats/usage?since=24h&group_by=model&bucket=day&tz=${TZ}`), [], 30000);
  const now = useNow();
  if (!st) return html`<${ErrorLine} error=${error} />${!error && html`<p>${t.loading}</p>`}`;
  const rows = usage?.rows ?? [];
  const req = pivot(rows, (r) => r.requests, () => t.requests);
  const err = pivot(rows, (r) => (r.requests ? 1 - r.ok / r.requests : 0), () => t.errorRate);
  const last = rows[rows.length - 1];
  const tokens = new Map();
  for (const r of byModel?.rows ?? []) {
    const k = tokens.get(r.group) ?? { prompt: 0, output: 0, thought: 0, requests: 0 };
    k.prompt += r.tokens.prompt; k.output += r.tokens.output; k.thought += r.tokens.thought; k.requests += r.requests;
    tokens.set(r.group, k);
  }
  return html`<section aria-labelledby="ov">
    <h1 id="ov">${t.overview}</h1>
    <${ErrorLine} error=${error} />
    <div class="cards">
      ${[['total', st.keys.total, ''], ['active', st.keys.active, 'active'], ['dead', st.keys.dead, 'dead'], ['disabled', st.keys.disabled, 'disabled']]
        .map(([k, v, s]) => html`<a class="card" href=${href('keys', { state: s })} data-testid=${`keys-${k}`}><span class="label">${t[k]}</span><span class="value">${v}</span></a>`)}
      <div class="card" data-testid="overhead"><span class="label">${t.overheadNow}</span><span class="value">${last ? `${msOf(last.avg_overhead_us)} ms` : '–'}</span></div>
      <div class="card" data-testid="inflight"><span class="label">${t.inflight}</span><span class="value">${st.inflight}</span></div>
    </div>
    <div class="two">
      <div>
        <h2>${t.byProject}</h2>
        <table data-testid="by-project">
          <thead><tr><th scope="col">${t.project}</th><th scope="col">${t.active}</th><th scope="col">${t.dead}</th><th scope="col">${t.disabled}</th></tr></thead>
          <tbody>${st.keys.by_project.map((p) => html`<tr><td><a href=${href('keys', { project: p.project })}>${p.project}</a></td><td>${p.active}</td><td>${p.dead}</td><td>${p.disabled}</td></tr>`)}</tbody>
        </table>
      </div>
      <div>
        <h2>${t.cooling}</h2>
        ${st.cooling.length === 0 ? html`<p>${t.none}</p>` : html`<table data-testid="cooling">
          <thead><tr><th scope="col">${t.project}</th><th scope="col">${t.model}</th><th scope="col">${t.endsIn}</th></tr></thead>
          <tbody>${st.cooling.map((c) => html`<tr><td>${c.project}</td><td>${c.model}</td><td>${span(c.until_ms - now)}</td></tr>`)}</tbody>
        </table>`}
      </div>
    </div>
    <div class="two">
      <${Chart} t=${t} id="ov-requests" title=${t.requestsPerHour} x=${req.x} series=${req.series} range=${rangeOf(usage)} />
      <${Chart} t=${t} id="ov-errors" title=${t.errorRatePerHour} x=${err.x} series=${err.series} range=${rangeOf(usage)} format=${pct} />
    </div>
    <h2>${t.tokensByModel}</h2>
    ${tokens.size === 0 ? html`<p>${t.noData}</p>` : html`<table data-testid="tokens-by-model">
      <thead><tr><th scope="col">${t.model}</th><th scope="col">${t.requests}</th><th scope="col">${t.promptTokens}</th><th scope="col">${t.outputTokens}</th><th scope="col">${t.thoughtTokens}</th></tr></thead>
      <tbody>${[...tokens].map(([m, k]) => html`<tr><td>${m || '–'}</td><td>${num(k.requests)}</td><td>${num(k.prompt)}</td><td>${num(k.output)}</td><td>${num(k.thought)}</td></tr>`)}</tbody>
    </table>`}
    <h2>${t.services}</h2>
    <p>${t.keypools}: ${st.services.keypools.length} · ${t.forwarders}: ${st.services.forwarders.length} · ${t.edges}: ${st.services.edges.length}</p>
  </section>`;
}
