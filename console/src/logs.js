// Request logs: filters kept in the URL (a link shares the view), keyset paging, a drawer with
// every attempt of one request, and "live" over the SSE tail (same filters) with pause.
import { html, useState, useEffect, useRef } from './vendor/preact.js';
import { api } from './api.js';
import { ErrorLine, go, href, msOf, num, useLoad, when } from './ui.js';

const FILTERS = ['since', 'model', 'status', 'key_id', 'project', 'token_id', 'error_class', 'request_id', 'stream', 'api', 'route'];
const LIVE_MAX = 500;

function qs(f, extra = {}) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (f[k]) q.set(k, f[k]);
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  return q.toString();
}

function Filters({ t, f }) {
  const [v, setV] = useState(f);
  useEffect(() => setV(f), [JSON.stringify(f)]);
  const set = (k) => (e) => setV({ ...v, [k]: e.target.value });
  const submit = (ev) => { ev.preventDefault(); go('logs', { ...v, cursor: '' }); };
  const text = (k, label) => html`<label>${label} <input name=${k} value=${v[k] ?? ''} onInput=${set(k)} /></label>`;
  return html`<form class="row filters" onSubmit=${submit} role="search" aria-label=${t.filters}>
    <label>${t.since} <select name="since" value=${v.since ?? ''} onChange=${set('since')}>
      <option value="">${t.any}</option>${['15m', '1h', '24h', '7d', '30d'].map((s) => html`<option value=${s}>${s}</option>`)}
    </select></label>
    ${text('model', t.model)}${text('status', t.status)}${text('error_class', t.outcome)}
    ${text('key_id', t.keyId)}${text('project', t.project)}${text('token_id', t.tokenId)}${text('request_id', t.requestId)}
    <label>${t.stream} <select name="stream" value=${v.stream ?? ''} onChange=${set('stream')}>
      <option value="">${t.any}</option><option value="true">${t.yes}</option><option value="false">${t.no}</option>
    </select></label>
    <label>API <select name="api" value=${v.api ?? ''} onChange=${set('api')}>
      <option value="">${t.any}</option><option value="gemini">Gemini</option><option value="openai">OpenAI</option>
    </select></label>
    <button type="submit">${t.apply}</button>
    <a href=${href('logs')}>${t.clear}</a>
  </form>`;
}

function Detail({ t, id, onClose }) {
  const [d, error] = useLoad(() => api(`/api/logs/${encodeURIComponent(id)}`), [id]);
  const close = useRef(null);
  useEffect(() => { close.current?.focus(); }, [id]);
  useEffect(() => {
    const esc = (e) => { if (e.key === 'Escape') onClose(); };
    addEventListener('keydown', esc);
    return () => removeEventListener('keydown', esc);
  }, []);
  return html`<aside class="drawer" role="dialog" aria-modal="false" aria-labelledby="dh" data-testid="log-detail">
    <div class="row"><h2 id="dh">${t.request} ${id}</h2><button type="button" ref=${close} onClick=${onClose}>${t.close}</button></div>
    <${ErrorLine} error=${error} />
    ${d && html`<dl class="facts">
      <dt>${t.time}</dt><dd>${when(d.time)}</dd>
      <dt>${t.status}</dt><dd>${d.status} · ${d.outcome}${d.finish_reason ? ` · ${d.finish_reason}` : ''}</dd>
      <dt>${t.model}</dt><dd>${d.model}${d.model_used && d.model_used !== d.model ? ` → ${d.model_used}` : ''}</dd>
      <dt>${t.route}</dt><dd>${d.api} · ${d.route}${d.stream ? ` · ${t.stream}` : ''}</dd>
      <dt>${t.tokenId}</dt><dd>${d.token_id || '–'}</dd>
      <dt>${t.timing}</dt><dd>${t.firstByte} ${msOf(d.ttfb_us)} ms · ${t.totalTime} ${msOf(d.total_us)} ms · ${t.overhead} ${msOf(d.overhead_us)} ms</dd>
      <dt>${t.tokensCol}</dt><dd>${num(d.tokens?.prompt)} / ${num(d.tokens?.output)} / ${num(d.tokens?.thought)}</dd>
      <dt>${t.bytes}</dt><dd>${num(d.bytes_in)} / ${num(d.bytes_out)}</dd>
    </dl>
    <h3>${t.attempts} (${d.attempts_total})</h3>
    <table data-testid="attempts">
      <thead><tr><th scope="col">#</th><th scope="col">${t.keyId}</th><th scope="col">${t.project}</th><th scope="col">${t.status}</th><th scope="col">${t.errorClass}</th><th scope="col">${t.latency}</th></tr></thead>
      <tbody>${d.attempts.map((a, i) => html`<tr><td>${i + 1}</td><td><a href=${href('keys', { q: a.key_id })}>${a.key_id}</a></td><td>${a.project}</td><td>${a.status}</td><td>${a.error_class ?? '–'}</td><td>${msOf(a.latency_us)} ms</td></tr>`)}</tbody>
    </table>`}
  </aside>`;
}

function Rows({ t, items, open }) {
  return html`<div class="scroll"><table data-testid="logs">
    <thead><tr>
      <th scope="col">${t.time}</th><th scope="col">${t.status}</th><th scope="col">${t.outcome}</th><th scope="col">${t.model}</th>
      <th scope="col">${t.route}</th><th scope="col">${t.keyId}</th><th scope="col">${t.attempts}</th><th scope="col">${t.totalTime}</th>
      <th scope="col">${t.overhead}</th><th scope="col">${t.tokensCol}</th><th scope="col">${t.request}</th>
    </tr></thead>
    <tbody>${items.map((l) => html`<tr key=${l.request_id} data-testid=${`log-${l.request_id}`} class=${l.status >= 400 || l.status === 0 ? 'bad' : ''}>
      <td>${when(l.time)}</td><td>${l.status}</td><td>${l.outcome}</td><td>${l.model}</td><td>${l.api} · ${l.route}${l.stream ? ' · SSE' : ''}</td>
      <td>${l.key_id || '–'}</td><td>${l.attempts_total}</td><td>${msOf(l.total_us)} ms</td><td>${msOf(l.overhead_us)} ms</td>
      <td>${num((l.tokens?.prompt ?? 0) + (l.tokens?.output ?? 0))}</td>
      <td><button type="button" class="link" onClick=${() => open(l.request_id)}>${l.request_id}</button></td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Live({ t, f, open }) {
  const [items, setItems] = useState([]);
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState([]);
  const [note, setNote] = useState('');
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  useEffect(() => {
    const es = new EventSource(`/api/logs/stream?${qs({ ...f, since: '' })}`);
    es.addEventListener('open', () => setNote(t.liveOn));
    es.addEventListener('request', (ev) => {
      let l;
      try { l = JSON.parse(ev.data); } catch { return; }
      if (pausedRef.current) setHeld((h) => [l, ...h].slice(0, LIVE_MAX));
      else setItems((xs) => [l, ...xs].slice(0, LIVE_MAX));
    });
    es.addEventListener('missed', (ev) => { try { setNote(`${t.missed}: ${JSON.parse(ev.data).missed}`); } catch { /* ignore */ } });
    es.addEventListener('end', () => { es.close(); setNote(t.liveEnded); });
    es.addEventListener('error', () => { if (es.readyState === EventSource.CLOSED) setNote(t.liveEnded); else setNote(t.reconnecting); });
    return () => es.close();
  }, [qs(f)]);
  const resume = () => { setItems((xs) => [...held, ...xs].slice(0, LIVE_MAX)); setHeld([]); setPaused(false); };
  return html`<div data-testid="live">
    <div class="row">
      ${paused ? html`<button type="button" onClick=${resume}>${t.resume} (${held.length})</button>`
        : html`<button type="button" onClick=${() => setPaused(true)}>${t.pause}</button>`}
      <span role="status" class="muted">${note}</span>
    </div>
    <${Rows} t=${t} items=${items} open=${open} />
  </div>`;
}

function Pages({ t, f, open }) {
  const [page, error] = useLoad(() => api(`/api/logs?${qs(f, { cursor: f.cursor, limit: '50' })}`), [JSON.stringify(f)]);
  const [trail, setTrail] = useState([]);
  if (error) return html`<${ErrorLine} error=${error} />`;
  if (!page) return html`<p>${t.loading}</p>`;
  const filters = Object.fromEntries(FILTERS.map((k) => [k, f[k]]));
  const older = () => { setTrail([...trail, f.cursor ?? '']); go('logs', { ...filters, cursor: page.next }); };
  const newer = () => { const tr = [...trail]; const c = tr.pop(); setTrail(tr); go('logs', { ...filters, cursor: c }); };
  return html`<${Rows} t=${t} items=${page.items} open=${open} />
    ${page.items.length === 0 && html`<p>${t.noLogs}</p>`}
    <div class="row">
      <button type="button" disabled=${!f.cursor} onClick=${newer}>${t.newer}</button>
      <button type="button" disabled=${!page.next} onClick=${older}>${t.older}</button>
    </div>`;
}

export function Logs({ t, query: f }) {
  const [detail, setDetail] = useState('');
  const live = f.live === '1';
  const filters = Object.fromEntries(FILTERS.map((k) => [k, f[k]]));
  return html`<section aria-labelledby="lh">
    <h1 id="lh">${t.logs}</h1>
    <${Filters} t=${t} f=${filters} />
    <div class="row" role="group" aria-label=${t.mode}>
      <a href=${href('logs', { ...filters })} aria-current=${live ? undefined : 'page'}>${t.history}</a>
      <a href=${href('logs', { ...filters, live: '1' })} aria-current=${live ? 'page' : undefined}>${t.live}</a>
    </div>
    ${live ? html`<${Live} t=${t} f=${filters} open=${setDetail} />` : html`<${Pages} t=${t} f=${f} open=${setDetail} />`}
    ${detail && html`<${Detail} t=${t} id=${detail} onClose=${() => setDetail('')} />`}
  </section>`;
}
