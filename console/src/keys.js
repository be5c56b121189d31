// Keys: masked keys with their live state, filters and search in the URL, keyset paging (one
// page of at most 100 rows whatever the pool's size), bulk paste with an exact report, actions on
// one key or on the selection. The full key reaches the browser only through "reveal".
import { html, useState, useEffect } from './vendor/preact.js';
import { api } from './api.js';
import { CopyButton, ErrorLine, go, href, span, useLoad, useNow } from './ui.js';

const PAGE = 100;
const FILTERS = ['state', 'project', 'label', 'model', 'q'];

function query(f) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  for (const k of [...FILTERS, 'after']) if (f[k]) q.set(k, f[k]);
  return `/api/keys?${q}`;
}

function Paste({ t, onDone }) {
  const [text, setText] = useState('');
  const [project, setProject] = useState('');
  const [label, setLabel] = useState('');
  const [report, setReport] = useState(null);
  const [error, setError] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    setError('');
    try {
      const r = await api('/api/keys', { method: 'POST', body: { text, project: project || undefined, label: label || undefined } });
      setReport(r);
      setText('');
      onDone();
    } catch (e) { setError(e.message); }
  };
  return html`<details class="panel"><summary>${t.addKeys}</summary>
    <form onSubmit=${submit} class="grid">
      <label for="paste">${t.pasteHelp}</label>
      <textarea id="paste" rows="6" value=${text} onInput=${(e) => setText(e.target.value)} spellcheck="false" autocomplete="off"></textarea>
      <div class="row">
        <label>${t.project} <input value=${project} onInput=${(e) => setProject(e.target.value)} /></label>
        <label>${t.label} <input value=${label} onInput=${(e) => setLabel(e.target.value)} /></label>
        <button type="submit" disabled=${!text.trim()}>${t.add}</button>
      </div>
    </form>
    <${ErrorLine} error=${error} />
    ${report && html`<p role="status" data-testid="paste-report">
      <span data-testid="added">${t.added}: ${report.added}</span> · <span data-testid="duplicate">${t.duplicates}: ${report.duplicate}</span> · <span data-testid="invalid">${t.invalid}: ${report.invalid}</span>
      ${report.invalid_samples.length > 0 && html` (${report.invalid_samples.join(', ')})`}</p>`}
  </details>`;
}

function Limits({ t }) {
  const [project, setProject] = useState('');
  const [model, setModel] = useState('');
  const [rpm, setRpm] = useState('');
  const [msg, setMsg] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    try {
      const r = await api(`/api/projects/${encodeURIComponent(project)}/limits`, { method: 'PUT', body: { rpm: { [model]: Number(rpm) } } });
      setMsg(`${t.changed}: ${r.changed}`);
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };
  return html`<details class="panel"><summary>${t.projectLimits}</summary>
    <form onSubmit=${submit} class="row">
      <label>${t.project} <input required value=${project} onInput=${(e) => setProject(e.target.value)} /></label>
      <label>${t.model} <input required value=${model} onInput=${(e) => setModel(e.target.value)} /></label>
      <label>RPM <input required type="number" min="0" value=${rpm} onInput=${(e) => setRpm(e.target.value)} /></label>
      <button type="submit">${t.save}</button> <span role="status">${msg}</span>
    </form>
  </details>`;
}

function Filters({ t, f }) {
  const [v, setV] = useState(f);
  useEffect(() => setV(f), [JSON.stringify(f)]);
  const set = (k) => (e) => setV({ ...v, [k]: e.target.value });
  const submit = (ev) => { ev.preventDefault(); go('keys', { ...v, after: '' }); };
  return html`<form class="row filters" onSubmit=${submit} role="search" aria-label=${t.filters}>
    <label>${t.search} <input type="search" value=${v.q ?? ''} onInput=${set('q')} placeholder=${t.searchHint} /></label>
    <label>${t.state} <select value=${v.state ?? ''} onChange=${set('state')}>
      <option value="">${t.any}</option>${['active', 'cooling', 'dead', 'disabled'].map((s) => html`<option value=${s}>${t[s]}</option>`)}
    </select></label>
    <label>${t.project} <input value=${v.project ?? ''} onInput=${set('project')} /></label>
    <label>${t.label} <input value=${v.label ?? ''} onInput=${set('label')} /></label>
    <label>${t.coolingFor} <input value=${v.model ?? ''} onInput=${set('model')} /></label>
    <button type="submit">${t.apply}</button>
    <a href=${href('keys')}>${t.clear}</a>
  </form>`;
}

function Reveal({ t, shown, onHide }) {
  if (!shown) return null;
  return html`<div class="reveal" role="dialog" aria-modal="false" aria-labelledby="rv">
    <h2 id="rv">${t.revealedTitle} ${shown.id}</h2>
    <p>${t.revealedOnce}</p>
    <code data-testid="revealed">${shown.key}</code>
    <div class="row"><${CopyButton} t=${t} text=${shown.key} /><button type="button" onClick=${onHide}>${t.hide}</button></div>
  </div>`;
}

function KeyRow({ t, k, now, picked, pick, act }) {
  const live = k.cooling.filter((c) => c.until_ms > now);
  return html`<tr data-testid=${`key-${k.id}`}>
    <td><input type="checkbox" checked=${picked} onChange=${(e) => pick(k.id, e.target.checked)} aria-label=${`${t.select} ${k.id}`} /></td>
    <td><code>${k.masked}</code><div class="muted small">${k.id}</div></td>
    <td>${k.project}</td>
    <td data-testid="label">${k.label}</td>
    <td><span class=${`state ${k.state}`} data-testid="state">${t[k.state] ?? k.state}</span>${k.reason && html`<div class="muted small">${k.reason}</div>`}</td>
    <td>${live.map((c) => html`<span class="chip">${c.model} ${span(c.until_ms - now)}</span>`)}${k.backoff_until_ms > now && html`<span class="chip">${t.backoff} ${span(k.backoff_until_ms - now)}</span>`}</td>
    <td>${k.inflight}</td>
    <td>${k.last_used_ms ? `${span(now - k.last_used_ms)} ${t.ago}` : '–'}</td>
    <td class="actions">
      ${k.state === 'disabled'
        ? html`<button type="button" onClick=${() => act('enable', k)}>${t.enable}</button>`
        : html`<button type="button" onClick=${() => act('disable', k)}>${t.disable}</button>`}
      <button type="button" onClick=${() => act('test', k)}>${t.test}</button>
      <button type="button" onClick=${() => act('reset', k)}>${t.reset}</button>
      <button type="button" onClick=${() => act('reveal', k)}>${t.reveal}</button>
      <button type="button" class="danger" onClick=${() => act('delete', k)}>${t.delete}</button>
      <a href=${href('logs', { key_id: k.id, since: '24h' })}>${t.viewLogs}</a>
    </td>
  </tr>`;
}

export function Keys({ t, query: f }) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, f[k] ?? '']));
  const [page, error, reload] = useLoad(() => api(query(f)), [JSON.stringify(f)], 5000);
  const [picked, setPicked] = useState(new Set());
  const [msg, setMsg] = useState('');
  const [shown, setShown] = useState(null);
  const [bulkLabel, setBulkLabel] = useState('');
  const [bulkProject, setBulkProject] = useState('');
  const now = useNow();
  const [trail, setTrail] = useState([]); // cursors of the pages before this one
  const pick = (id, on) => setPicked((s) => { const n = new Set(s); if (on) n.add(id); else n.delete(id); return n; });

  const act = async (action, k) => {
    setMsg('');
    try {
      if (action === 'delete' && !confirm(`${t.confirmDelete} ${k.masked} (${k.id})?`)) return;
      if (action === 'reveal') {
        if (!confirm(`${t.confirmReveal} ${k.masked} (${k.id})?`)) return;
        setShown(await api(`/api/keys/${k.id}/reveal`, { method: 'POST', body: {} }));
        return;
      }
      if (action === 'test') {
        setMsg(`${k.id}: ${t.testing}`);
        const r = await api(`/api/keys/${k.id}/test`, { method: 'POST', body: {} });
        setMsg(`${k.id}: ${r.ok ? t.testOk : `${t.testFailed} ${r.status} ${r.error_class}: ${r.message}`} (${r.latency_ms} ms)`);
      } else if (action === 'enable' || action === 'disable') {
        await api(`/api/keys/${k.id}`, { method: 'PATCH', body: { enabled: action === 'enable' } });
      } else if (action === 'reset') {
        await api(`/api/keys/${k.id}/reset`, { method: 'POST', body: {} });
      } else if (action === 'delete') {
        await api(`/api/keys/${k.id}`, { method: 'DELETE', body: {} });
      }
      if (action !== 'test') setMsg(`${k.id}: ${t.done}`);
      reload();
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };

  const bulk = async (action, extra = {}) => {
    const ids = [...picked];
    if (action === 'delete' && !confirm(`${t.confirmDeleteMany} ${ids.length}?`)) return;
    try {
      const r = await api('/api/keys/actions', { method: 'POST', body: { action, ids, ...extra } });
      setMsg(`${t.changed}: ${r.changed}`);
      if (action === 'delete') setPicked(new Set());
      reload();
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };

  // Every dead key, page by page (the list filters by live state on the key pool's side).
  const deleteDead = async () => {
    if (!confirm(t.confirmDeleteDead)) return;
    let total = 0;
    try {
      for (let rounds = 0; rounds < 1000; rounds++) {
        const r = await api('/api/keys?state=dead&limit=500');
        if (r.keys.length === 0) break;
        total += (await api('/api/keys/actions', { method: 'POST', body: { action: 'delete', ids: r.keys.map((k) => k.id) } })).changed;
      }
      setMsg(`${t.deletedDead}: ${total}`);
      reload();
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };

  const next = () => { setTrail([...trail, f.after ?? '']); go('keys', { ...filters, after: page.next }); };
  const prev = () => { const tr = [...trail]; const a = tr.pop(); setTrail(tr); go('keys', { ...filters, after: a }); };
  const keys = page?.keys ?? [];
  const all = keys.length > 0 && keys.every((k) => picked.has(k.id));
  return html`<section aria-labelledby="kh">
    <h1 id="kh">${t.keys}</h1>
    <${Paste} t=${t} onDone=${reload} />
    <${Limits} t=${t} />
    <${Filters} t=${t} f=${filters} />
    <${ErrorLine} error=${error} />
    <p role="status" data-testid="key-msg">${msg}</p>
    <${Reveal} t=${t} shown=${shown} onHide=${() => setShown(null)} />
    <div class="row bulk" aria-label=${t.selection} role="group">
      <span>${t.selected}: ${picked.size}</span>
      <button type="button" disabled=${!picked.size} onClick=${() => bulk('enable')}>${t.enable}</button>
      <button type="button" disabled=${!picked.size} onClick=${() => bulk('disable')}>${t.disable}</button>
      <button type="button" disabled=${!picked.size} onClick=${() => bulk('reset')}>${t.reset}</button>
      <label>${t.label} <input value=${bulkLabel} onInput=${(e) => setBulkLabel(e.target.value)} /></label>
      <button type="button" disabled=${!picked.size} onClick=${() => bulk('label', { label: bulkLabel })}>${t.setLabel}</button>
      <label>${t.project} <input value=${bulkProject} onInput=${(e) => setBulkProject(e.target.value)} /></label>
      <button type="button" disabled=${!picked.size || !bulkProject} onClick=${() => bulk('project', { project: bulkProject })}>${t.moveProject}</button>
      <button type="button" class="danger" disabled=${!picked.size} onClick=${() => bulk('delete')}>${t.deleteSelected}</button>
      <button type="button" class="danger" onClick=${deleteDead}>${t.deleteDead}</button>
    </div>
    ${!page ? html`<p>${t.loading}</p>` : html`
      <p class="muted" data-testid="key-count">${t.matching}: ${page.total}${filters.state || filters.model ? ` (${t.beforeState})` : ''}</p>
      <div class="scroll"><table class="keys">
        <thead><tr>
          <th scope="col"><input type="checkbox" checked=${all} aria-label=${t.selectPage} onChange=${(e) => setPicked(new Set(e.target.checked ? keys.map((k) => k.id) : []))} /></th>
          <th scope="col">${t.key}</th><th scope="col">${t.project}</th><th scope="col">${t.label}</th><th scope="col">${t.state}</th>
          <th scope="col">${t.coolingCol}</th><th scope="col">${t.inflight}</th><th scope="col">${t.lastUsed}</th><th scope="col">${t.actions}</th>
        </tr></thead>
        <tbody>${keys.map((k) => html`<${KeyRow} key=${k.id} t=${t} k=${k} now=${now} picked=${picked.has(k.id)} pick=${pick} act=${act} />`)}</tbody>
      </table></div>
      ${keys.length === 0 && html`<p>${t.noKeys}</p>`}
      <div class="row">
        <button type="button" disabled=${!f.after} onClick=${prev}>${t.prev}</button>
        <button type="button" disabled=${!page.next} onClick=${next}>${t.next}</button>
      </div>`}
  </section>`;
}
