// Client tokens: create (the secret is shown once, with a copy button), edit name, expiry,
// allowed models and limits, see usage, disable, delete.
import { html, useState } from './vendor/preact.js';
import { api } from './api.js';
import { CopyButton, ErrorLine, num, useLoad, when } from './ui.js';

const LIMITS = ['rpm', 'rpd', 'tpm', 'max_concurrent'];
const blank = { name: '', expires: '', models: '', rpm: '', rpd: '', tpm: '', max_concurrent: '' };

function formOf(tok) {
  if (!tok) return blank;
  return {
    name: tok.name, expires: tok.expires_at ? tok.expires_at.slice(0, 10) : '', models: (tok.models ?? []).join(', '),
    ...Object.fromEntries(LIMITS.map((l) => [l, tok.limits[l] ? String(tok.limits[l]) : ''])),
  };
}

// The request body; when editing, the expiry is sent only if it changed (an expired token keeps
// its past date without being refused for it).
function bodyOf(v, orig) {
  const editing = orig !== null;
  const b = { name: v.name.trim() };
  if (!editing || v.expires !== orig.expires) b.expires_at = v.expires || null;
  if (!editing && !v.expires) delete b.expires_at;
  const models = v.models.split(/[\s,]+/).filter(Boolean);
  if (models.length) b.models = models;
  else if (editing) b.models = null;
  for (const l of LIMITS) b[l] = v[l] === '' ? 0 : Number(v[l]);
  return b;
}

function TokenForm({ t, tok, onSaved, onCancel }) {
  const [v, setV] = useState(formOf(tok));
  const [error, setError] = useState('');
  const set = (k) => (e) => setV({ ...v, [k]: e.target.value });
  const submit = async (ev) => {
    ev.preventDefault();
    setError('');
    try {
      const r = tok
        ? await api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: bodyOf(v, formOf(tok)) })
        : await api('/api/tokens', { method: 'POST', body: bodyOf(v, null) });
      setV(blank);
      onSaved(r);
    } catch (e) { setError(e.message); }
  };
  const id = tok ? `edit-${tok.id}` : 'new';
  return html`<form class="panel grid" onSubmit=${submit} aria-label=${tok ? `${t.edit} ${tok.name}` : t.newToken}>
    <div class="row">
      <label>${t.name} <input id=${`${id}-name`} required maxlength="100" value=${v.name} onInput=${set('name')} /></label>
      <label>${t.expires} <input type="date" value=${v.expires} onInput=${set('expires')} /></label>
      <label>${t.allowedModels} <input value=${v.models} onInput=${set('models')} placeholder=${t.allModels} /></label>
    </div>
    <div class="row">
      ${LIMITS.map((l) => html`<label>${t[l]} <input type="number" min="0" step="1" value=${v[l]} onInput=${set(l)} placeholder=${t.unlimited} /></label>`)}
    </div>
    <div class="row">
      <button type="submit">${tok ? t.save : t.create}</button>
      ${onCancel && html`<button type="button" class="plain" onClick=${onCancel}>${t.cancel}</button>`}
    </div>
    <${ErrorLine} error=${error} />
  </form>`;
}

function Secret({ t, made, onHide }) {
  return html`<div class="reveal" role="dialog" aria-labelledby="ts">
    <h2 id="ts">${t.tokenCreated} ${made.name}</h2>
    <p>${t.secretOnce}</p>
    <code data-testid="token-secret">${made.secret}</code>
    <div class="row"><${CopyButton} t=${t} text=${made.secret} /><button type="button" onClick=${onHide}>${t.hide}</button></div>
  </div>`;
}

export function Tokens({ t }) {
  const [data, error, reload] = useLoad(() => api('/api/tokens'), [], 10000);
  const [made, setMade] = useState(null);
  const [editing, setEditing] = useState('');
  const [msg, setMsg] = useState('');
  const act = async (tok, what) => {
    try {
      if (what === 'delete') {
        if (!confirm(`${t.confirmDeleteToken} ${tok.name}?`)) return;
        await api(`/api/tokens/${tok.id}`, { method: 'DELETE', body: {} });
      } else {
        await api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { enabled: what === 'enable' } });
      }
      setMsg(`${tok.name}: ${t.done}`);
      reload();
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };
  const tokens = data?.tokens ?? [];
  return html`<section aria-labelledby="th">
    <h1 id="th">${t.tokens}</h1>
    <h2>${t.newToken}</h2>
    <${TokenForm} t=${t} onSaved=${(r) => { setMade(r); reload(); }} />
    ${made && html`<${Secret} t=${t} made=${made} onHide=${() => setMade(null)} />`}
    <${ErrorLine} error=${error} />
    <p role="status">${msg}</p>
    ${!data ? html`<p>${t.loading}</p>` : html`<div class="scroll"><table data-testid="tokens">
      <thead><tr>
        <th scope="col">${t.name}</th><th scope="col">${t.state}</th><th scope="col">${t.expires}</th><th scope="col">${t.allowedModels}</th>
        <th scope="col">${t.limits}</th><th scope="col">${t.usage}</th><th scope="col">${t.actions}</th>
      </tr></thead>
      <tbody>${tokens.map((tok) => html`<tr data-testid=${`token-${tok.id}`}>
        <td>${tok.name}<div class="muted small">${tok.id}${tok.prefix && ` · ${tok.prefix}…`}</div></td>
        <td>${tok.enabled ? t.enabled : t.disabled}</td>
        <td>${when(tok.expires_at)}</td>
        <td>${tok.models ? tok.models.join(', ') : t.allModels}</td>
        <td class="small">${LIMITS.map((l) => html`<div>${t[l]}: ${tok.limits[l] ? num(tok.limits[l]) : '∞'}</div>`)}</td>
        <td class="small" data-testid="usage">
          <div>${t.requests}: <span data-testid="usage-requests">${num(tok.usage.requests)}</span> · ${t.rejected}: ${num(tok.usage.rejected)}</div>
          <div>${t.promptTokens}: ${num(tok.usage.prompt_tokens)} · ${t.outputTokens}: ${num(tok.usage.output_tokens)}</div>
          <div>${t.nowUse}: ${tok.usage.current.rpm} rpm · ${tok.usage.current.rpd} rpd · ${tok.usage.current.tpm} tpm · ${tok.usage.current.concurrent} ${t.concurrent}</div>
        </td>
        <td class="actions">${tok.source === 'env' ? html`<span class="muted">${t.fromEnv}</span>` : html`
          <button type="button" onClick=${() => setEditing(editing === tok.id ? '' : tok.id)}>${t.edit}</button>
          ${tok.enabled ? html`<button type="button" onClick=${() => act(tok, 'disable')}>${t.disable}</button>`
            : html`<button type="button" onClick=${() => act(tok, 'enable')}>${t.enable}</button>`}
          <button type="button" class="danger" onClick=${() => act(tok, 'delete')}>${t.delete}</button>`}
        </td>
      </tr>`)}</tbody>
    </table></div>`}
    ${editing && tokens.find((x) => x.id === editing) && html`<h2>${t.edit}</h2>
      <${TokenForm} key=${editing} t=${t} tok=${tokens.find((x) => x.id === editing)} onSaved=${() => { setEditing(''); reload(); }} onCancel=${() => setEditing('')} />`}
  </section>`;
}
