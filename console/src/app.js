// The console's shell: sign in, then the pages. Text is always rendered as text (htm never
// interprets strings as HTML).
import { html, render, useState, useEffect } from './vendor/preact.js';
import { api, ApiError } from './api.js';
import { pickLang, texts, keepLang } from './i18n.js';

function SignIn({ t, onIn }) {
  const [user, setUser] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    setError('');
    try {
      await api('/api/auth/login', { method: 'POST', body: { username: user, password } });
      onIn();
    } catch (e) {
      setError(e instanceof ApiError && e.status === 429 ? t.limited
        : e instanceof ApiError && e.status === 503 ? t.unavailable : t.badLogin);
    }
  };
  return html`<main class="signin">
    <h1>${t.title}</h1>
    <form onSubmit=${submit}>
      <label for="user">${t.user}</label>
      <input id="user" name="username" autocomplete="username" value=${user} onInput=${(e) => setUser(e.target.value)} />
      <label for="password">${t.password}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} />
      <button type="submit">${t.signIn}</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
  </main>`;
}

function Overview({ t }) {
  const [st, setSt] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    const load = () => api('/api/status').then((s) => live && setSt(s)).catch((e) => live && setError(e.message));
    load();
    const timer = setInterval(load, 5000);
    return () => { live = false; clearInterval(timer); };
  }, []);
  if (error) return html`<p class="error" role="alert">${t.error}: ${error}</p>`;
  if (!st) return html`<p>${t.loading}</p>`;
  return html`<section aria-labelledby="ov">
    <h2 id="ov">${t.overview}</h2>
    <div class="cards">
      ${[['total', st.keys.total], ['active', st.keys.active], ['dead', st.keys.dead], ['disabled', st.keys.disabled]]
        .map(([k, v]) => html`<div class="card" data-testid=${`keys-${k}`}><span class="label">${t[k]}</span><span class="value">${v}</span></div>`)}
    </div>
    <h3>${t.byProject}</h3>
    <table>
      <thead><tr><th scope="col">${t.project}</th><th scope="col">${t.active}</th><th scope="col">${t.dead}</th><th scope="col">${t.disabled}</th></tr></thead>
      <tbody>${st.keys.by_project.map((p) => html`<tr><td>${p.project}</td><td>${p.active}</td><td>${p.dead}</td><td>${p.disabled}</td></tr>`)}</tbody>
    </table>
    <h3>${t.cooling}</h3>
    ${st.cooling.length === 0 ? html`<p>${t.none}</p>` : html`<table>
      <thead><tr><th scope="col">${t.project}</th><th scope="col">${t.model}</th><th scope="col">${t.until}</th></tr></thead>
      <tbody>${st.cooling.map((c) => html`<tr><td>${c.project}</td><td>${c.model}</td><td>${c.until}</td></tr>`)}</tbody>
    </table>`}
    <h3>${t.services}</h3>
    <p>${t.keypools}: ${st.services.keypools.length} · ${t.forwarders}: ${st.services.forwarders.length} · ${t.edges}: ${st.services.edges.length} · ${t.inflight}: ${st.inflight}</p>
  </section>`;
}

function App() {
  const [lang, setLang] = useState(pickLang());
  const [me, setMe] = useState(undefined); // undefined: asking; null: signed out
  const t = texts(lang);
  const who = () => api('/api/auth/session').then((m) => setMe(m.signed_in ? m : null)).catch(() => setMe(null));
  const choose = (l) => { keepLang(l); setLang(l); };
  useEffect(() => { keepLang(lang); document.title = t.title; }, [lang]);
  useEffect(() => { who(); }, []);
  const out = async () => { try { await api('/api/auth/logout', { method: 'POST', body: {} }); } finally { setMe(null); } };
  const switcher = html`<label class="lang">${t.language}
    <select value=${lang} onChange=${(e) => choose(e.target.value)}>
      <option value="en">English</option><option value="zh">中文</option>
    </select></label>`;
  if (me === undefined) return html`<p>${t.loading}</p>`;
  if (me === null) return html`${switcher}<${SignIn} t=${t} onIn=${who} />`;
  return html`<header>
      <strong>${t.title}</strong>
      <nav aria-label="main"><a href="#/" aria-current="page">${t.overview}</a></nav>
      <span class="who">${t.signedInAs} ${me.user}</span>
      ${switcher}
      <button type="button" onClick=${out}>${t.signOut}</button>
    </header>
    <main><${Overview} t=${t} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));
