// Small pieces every page uses: the hash route (page and query, so filters are shareable),
// number and time formats, a clock for countdowns, copying, and a uPlot chart that always comes
// with its data as a table (readable by screen readers, and by the tests).
import { html, useState, useEffect, useRef } from './vendor/preact.js';
import uPlot from './vendor/uplot.js';

export function parseHash() {
  const h = location.hash.replace(/^#\/?/, '');
  const [page, qs = ''] = h.split('?');
  return { page: page || 'overview', query: Object.fromEntries(new URLSearchParams(qs)) };
}

export function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

// Build '#/page?a=b' without empty values.
export function href(page, query = {}) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const s = q.toString();
  return `#/${page}${s ? `?${s}` : ''}`;
}

export function go(page, query) {
  const h = href(page, query);
  if (location.hash !== h) location.hash = h;
}

export const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
export const msOf = (us) => (us === null || us === undefined ? '–' : (us / 1000).toFixed(us < 10000 ? 2 : 0));
export const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

export function when(v) {
  if (v === null || v === undefined || v === '' || v === 0) return '–';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// "12s", "4m 03s", "2h 10m": a duration in ms, for countdowns and "ago".
export function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

// Re-render every `ms` (countdowns).
export function useNow(ms = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

// Load `fn()` now and whenever `deps` change (and every `every` ms if given).
export function useLoad(fn, deps, every = 0) {
  const [state, setState] = useState({ data: null, error: '' });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () => fn().then((data) => live && setState({ data, error: '' }))
      .catch((e) => live && setState((s) => ({ data: s.data, error: e.message })));
    run();
    const t = every ? setInterval(run, every) : 0;
    return () => { live = false; if (t) clearInterval(t); };
  }, [...deps, n]);
  return [state.data, state.error, () => setN((x) => x + 1)];
}

// Copy text; navigator.clipboard exists only in secure contexts (https, localhost), so plain http
// falls back to a selected, off-screen text area.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return true;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  return ok;
}

export function CopyButton({ t, text }) {
  const [done, setDone] = useState('');
  const click = async () => {
    try { setDone((await copyText(text)) ? t.copied : t.copyFailed); } catch { setDone(t.copyFailed); }
  };
  return html`<button type="button" onClick=${click}>${t.copy}</button> <span role="status">${done}</span>`;
}

export function ErrorLine({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

const PALETTE = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#0c8599', '#c2255c', '#5c7cfa', '#74b816', '#868e96'];
export const colour = (i) => PALETTE[i % PALETTE.length];

// A time series chart. x: unix seconds; series: [{label, values}]; range: [from, to] of the
// query in unix seconds (else the data's own). The same data is in a table
// below the canvas (collapsed), so the numbers are in the document.
export function Chart({ t, id, title, x, series, range, format = num, height = 220 }) {
  const box = useRef(null);
  const sig = JSON.stringify([x, series, range]); // redrawn when the data change, not on every render
  useEffect(() => {
    if (!box.current || x.length === 0) return undefined;
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    const axis = { stroke: dark ? '#9da7b3' : '#57606a', grid: { stroke: dark ? '#30363d' : '#e5e7eb' } };
    const plot = new uPlot({
      width: Math.max(320, box.current.clientWidth || 600), height,
      legend: { show: false },
      scales: { x: range ? { time: true, range: () => range } : { time: true } },
      axes: [axis, { ...axis, size: 60 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colour(i), width: 2, points: { show: x.length < 3 } }))],
    }, [x, ...series.map((s) => s.values)], box.current);
    return () => plot.destroy();
  }, [sig]);
  return html`<figure class="chart" data-testid=${id}>
    <figcaption>${title}</figcaption>
    ${x.length === 0 ? html`<p class="muted">${t.noData}</p>` : html`
      <ul class="legend">${series.map((s, i) => html`<li><span class=${`swatch c${i % PALETTE.length}`} aria-hidden="true"></span>${s.label}</li>`)}</ul>
      <div class="plot" ref=${box} role="img" aria-label=${title}></div>
      <details><summary>${t.dataTable}</summary>
        <table>
          <thead><tr><th scope="col">${t.time}</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
          <tbody>${x.map((v, i) => html`<tr><td>${when(v * 1000)}</td>${series.map((s) => html`<td>${s.values[i] === null ? '–' : format(s.values[i])}</td>`)}</tr>`)}</tbody>
        </table>
      </details>`}
  </figure>`;
}

// Rows [{bucket, group, ...}] -> { x: sorted unix seconds, series: [{label, values}] } of pick(row).
export function pivot(rows, pick, groupOf = (r) => r.group) {
  const xs = [...new Set(rows.map((r) => Date.parse(r.bucket) / 1000))].sort((a, b) => a - b);
  const at = new Map(xs.map((v, i) => [v, i]));
  const groups = [...new Set(rows.map(groupOf))];
  const series = groups.map((g) => ({ label: g === '' || g === null ? '–' : String(g), values: xs.map(() => null) }));
  for (const r of rows) {
    const s = series[groups.indexOf(groupOf(r))];
    const i = at.get(Date.parse(r.bucket) / 1000);
    s.values[i] = (s.values[i] ?? 0) + pick(r);
  }
  return { x: xs, series };
}

// [from, to] in unix seconds of a statistics answer.
export const rangeOf = (answer) => (answer ? [Date.parse(answer.from) / 1000, Date.parse(answer.to) / 1000] : undefined);

// The browser's time zone, so hours and days are the operator's own (statistics take `tz`).
export const TZ = encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
