// Settings: a form over the live settings, checked before it is sent, with the difference shown
// before saving; the scheduler's jobs with "run now"; the password.
import { html, useState, useEffect } from './vendor/preact.js';
import { api } from './api.js';
import { ErrorLine, useLoad, when } from './ui.js';

// The edge's own bounds (services/edge/admin_settings.c); an empty field = environment default.
const NUMS = [
  ['retry_budget', 1, 32], ['deadline_ms', 1000, 3600000], ['connect_ms', 100, 120000],
  ['first_byte_ms', 100, 3600000], ['idle_ms', 100, 3600000], ['max_body_bytes', 1024, 268435456],
  ['log_retention_days', 1, 3650],
];

// Stored values as form strings ('' = not set here).
function formOf(s) {
  const v = {};
  for (const [k] of NUMS) {
    const o = k === 'log_retention_days' ? s.log_retention_days : s.overrides[k];
    v[k] = o === null || o === undefined ? '' : String(o);
  }
  v.upstream_base_url = s.upstream_base_url ?? '';
  v.upstream_proxy = s.upstream_proxy ?? '';
  v.aliases = Object.entries(s.aliases ?? {}).map(([a, m]) => `${a} = ${m}`).join('\n');
  v.hidden_models = (s.hidden_models ?? []).join(', ');
  v.error_classes = s.error_classes ? JSON.stringify(s.error_classes, null, 1) : '';
  return v;
}

// Form strings -> { body (the changed fields), errors }.
function check(t, v, old) {
  const body = {};
  const errors = {};
  for (const [k, lo, hi] of NUMS) {
    if (v[k] === old[k]) continue;
    if (v[k].trim() === '') { body[k] = null; continue; }
    const n = Number(v[k]);
    if (!Number.isInteger(n) || n < lo || n > hi) errors[k] = `${t.between} ${lo}–${hi}`;
    else body[k] = n;
  }
  for (const k of ['upstream_base_url', 'upstream_proxy']) {
    if (v[k] === old[k]) continue;
    const s = v[k].trim();
    if (s === '') body[k] = null;
    else if (k === 'upstream_base_url' ? !/^https?:\/\/\S+$/.test(s) : !/^(https?|socks5h?):\/\/\S+$|^none$/.test(s)) errors[k] = t.badUrl;
    else body[k] = s;
  }
  if (v.aliases !== old.aliases) {
    const map = {};
    for (const line of v.aliases.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const m = /^([\w.:/-]+)\s*=\s*([\w.:/-]+)$/.exec(line);
      if (!m) { errors.aliases = `${t.badAlias}: ${line}`; break; }
      map[m[1]] = m[2];
    }
    body.aliases = map;
  }
  if (v.hidden_models !== old.hidden_models) body.hidden_models = v.hidden_models.split(/[\s,]+/).filter(Boolean);
  if (v.error_classes !== old.error_classes) {
    if (v.error_classes.trim() === '') body.error_classes = null;
    else {
      try { body.error_classes = JSON.parse(v.error_classes); } catch { errors.error_classes = t.badJson; }
    }
  }
  return { body, errors };
}

function Scheduler({ t }) {
  const [s, error, reload] = useLoad(() => api('/api/scheduler'), [], 10000);
  const [msg, setMsg] = useState('');
  const run = async (name) => {
    try {
      const j = await api(`/api/scheduler/${encodeURIComponent(name)}/run`, { method: 'POST', body: {} });
      setMsg(`${name}: ${j.last_result ?? t.done}`);
      reload();
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };
  return html`<h2>${t.scheduler}</h2>
    <${ErrorLine} error=${error} />
    ${s && html`<p>${t.leader}: ${s.leader ?? '–'}</p>
    <p role="status" data-testid="sched-msg">${msg}</p>
    <div class="scroll"><table data-testid="jobs">
      <thead><tr><th scope="col">${t.job}</th><th scope="col">${t.every}</th><th scope="col">${t.lastRun}</th><th scope="col">${t.result}</th><th scope="col">${t.nextRun}</th><th scope="col">${t.runs}</th><th scope="col">${t.actions}</th></tr></thead>
      <tbody>${s.jobs.map((j) => html`<tr data-testid=${`job-${j.name}`}>
        <td>${j.name}</td><td>${j.every}</td><td>${when(j.last_run)}${j.last_ok === false ? ` · ${t.failed}` : ''}</td>
        <td data-testid="runs-result">${j.last_result}</td><td>${when(j.next_run)}</td><td data-testid="runs">${j.runs}</td>
        <td><button type="button" onClick=${() => run(j.name)}>${t.runNow} <span class="offscreen">${j.name}</span></button></td>
      </tr>`)}</tbody>
    </table></div>`}`;
}

function Password({ t }) {
  const [cur, setCur] = useState('');
  const [pw, setPw] = useState('');
  const [again, setAgain] = useState('');
  const [msg, setMsg] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    if (pw !== again) { setMsg(t.pwMismatch); return; }
    if (pw.length < 12) { setMsg(t.pwShort); return; }
    try {
      await api('/api/auth/password', { method: 'POST', body: { current_password: cur, new_password: pw } });
      setCur(''); setPw(''); setAgain('');
      setMsg(t.pwChanged);
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };
  return html`<h2>${t.changePassword}</h2>
    <form class="grid narrow" onSubmit=${submit}>
      <label for="pw-cur">${t.currentPassword}</label><input id="pw-cur" type="password" autocomplete="current-password" required value=${cur} onInput=${(e) => setCur(e.target.value)} />
      <label for="pw-new">${t.newPassword}</label><input id="pw-new" type="password" autocomplete="new-password" required minlength="12" value=${pw} onInput=${(e) => setPw(e.target.value)} />
      <label for="pw-again">${t.repeatPassword}</label><input id="pw-again" type="password" autocomplete="new-password" required value=${again} onInput=${(e) => setAgain(e.target.value)} />
      <button type="submit">${t.changePassword}</button>
      <p role="status" data-testid="pw-msg">${msg}</p>
    </form>`;
}

export function Settings({ t }) {
  const [s, error, reload] = useLoad(() => api('/api/settings'), []);
  const [v, setV] = useState(null);
  const [review, setReview] = useState(null);
  const [pw, setPw] = useState('');
  const [msg, setMsg] = useState('');
  useEffect(() => { if (s) setV(formOf(s)); }, [s]);
  if (!s || !v) return html`<${ErrorLine} error=${error} /><p>${t.loading}</p>`;
  const old = formOf(s);
  const { body, errors } = check(t, v, old);
  const set = (k) => (e) => { setV({ ...v, [k]: e.target.value }); setReview(null); setMsg(''); };
  const upstream = 'upstream_base_url' in body || 'upstream_proxy' in body;
  const save = async () => {
    try {
      const r = await api('/api/settings', { method: 'PUT', body: upstream ? { ...body, current_password: pw } : body });
      setMsg(`${t.saved} (${t.revision} ${r.revision})`);
      setReview(null); setPw('');
      reload();
    } catch (e) { setMsg(`${t.error}: ${e.message}`); }
  };
  const field = (k, label, hint) => html`<label for=${`set-${k}`}>${label}</label>
    <div><input id=${`set-${k}`} value=${v[k]} onInput=${set(k)} placeholder=${hint} aria-invalid=${errors[k] ? 'true' : undefined} aria-describedby=${errors[k] ? `err-${k}` : undefined} />
    ${errors[k] && html`<span class="error" id=${`err-${k}`}>${errors[k]}</span>`}</div>`;
  const effective = (k) => `${t.default}: ${k === 'log_retention_days' ? t.loggerDefault : s[k]}`;
  return html`<section aria-labelledby="seth">
    <h1 id="seth">${t.settings}</h1>
    <p class="muted">${t.settingsHelp} ${s.revision ? `${t.revision} ${s.revision} · ${s.updated_by ?? ''} · ${when(s.updated_at)}` : ''}</p>
    <form class="settings" onSubmit=${(e) => { e.preventDefault(); if (!Object.keys(errors).length) setReview(body); }}>
      ${NUMS.map(([k]) => field(k, t[`set_${k}`] ?? k, effective(k)))}
      ${field('upstream_base_url', t.set_upstream_base_url, 'https://generativelanguage.googleapis.com')}
      ${field('upstream_proxy', t.set_upstream_proxy, t.noProxy)}
      <label for="set-aliases">${t.set_aliases}</label>
      <div><textarea id="set-aliases" rows="3" value=${v.aliases} onInput=${set('aliases')} placeholder="my-model = gemini-2.5-flash"></textarea>${errors.aliases && html`<span class="error">${errors.aliases}</span>`}</div>
      ${field('hidden_models', t.set_hidden_models, 'gemini-1.5-pro, …')}
      <label for="set-error_classes">${t.set_error_classes}</label>
      <div><textarea id="set-error_classes" rows="3" value=${v.error_classes} onInput=${set('error_classes')} placeholder=${t.builtIn}></textarea>${errors.error_classes && html`<span class="error">${errors.error_classes}</span>`}</div>
      <span></span><div><button type="submit" disabled=${Object.keys(errors).length > 0 || Object.keys(body).length === 0}>${t.reviewChanges}</button></div>
    </form>
    ${review && html`<div class="panel" data-testid="settings-diff">
      <h2>${t.changes}</h2>
      <table><thead><tr><th scope="col">${t.setting}</th><th scope="col">${t.before}</th><th scope="col">${t.after}</th></tr></thead>
        <tbody>${Object.keys(review).map((k) => html`<tr><td>${k}</td><td>${old[k] || t.defaultShort}</td><td>${v[k] || t.defaultShort}</td></tr>`)}</tbody>
      </table>
      ${upstream && html`<p><label for="set-pw">${t.currentPassword}</label> <input id="set-pw" type="password" autocomplete="current-password" value=${pw} onInput=${(e) => setPw(e.target.value)} /></p>`}
      <div class="row"><button type="button" onClick=${save}>${t.save}</button><button type="button" class="plain" onClick=${() => setReview(null)}>${t.cancel}</button></div>
    </div>`}
    <p role="status" data-testid="settings-msg">${msg}</p>
    <${Scheduler} t=${t} />
    <${Password} t=${t} />
  </section>`;
}
