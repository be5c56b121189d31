// The console's shell: sign in, then the pages (routed by the URL's hash: #/keys?state=dead). Text is always rendered as text (htm never
// interprets strings as HTML).
import { html, render, useState, useEffect } from './vendor/preact.js';
import { api, ApiError } from './api.js';
import { pickLang, texts, keepLang } from './i18n.js';
import { useRoute, href } from './ui.js';
import { Overview } from './overview.js';
import { Keys } from './keys.js';
import { Tokens } from './tokens.js';
import { Logs } from './logs.js';
import { Stats } from './stats.js';
import { Settings } from './settings.js';

const PAGES = { overview: Overview, keys: Keys, tokens: Tokens, logs: Logs, stats: Stats, settings: Settings };

function SignIn({ t, onIn }) {
  const [user, setUser] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    setError('');
    try {
      await api('/api/auth/login', { method: 'POST', body: { username: user, password } });
      // a Secure cookie is dropped by the browser over plain http (except on localhost)
      if (!(await api('/api/auth/session')).signed_in) { setError(t.cookieRefused); return; }
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

function App() {
  const [lang, setLang] = useState(pickLang());
  const [me, setMe] = useState(undefined); // undefined: asking; null: signed out
  const route = useRoute();
  const t = texts(lang);
  const who = () => api('/api/auth/session').then((m) => setMe(m.signed_in ? m : null)).catch(() => setMe(null));
  const choose = (l) => { keepLang(l); setLang(l); };
  useEffect(() => { keepLang(lang); document.title = t.title; }, [lang]);
  useEffect(() => {
    who();
    const gone = () => setMe(null);
    addEventListener('sb:signedout', gone);
    return () => removeEventListener('sb:signedout', gone);
  }, []);
  const out = async () => { try { await api('/api/auth/logout', { method: 'POST', body: {} }); } finally { setMe(null); } };
  const switcher = html`<label class="lang">${t.language}
    <select value=${lang} onChange=${(e) => choose(e.target.value)}>
      <option value="en">English</option><option value="zh">中文</option>
    </select></label>`;
  if (me === undefined) return html`<p>${t.loading}</p>`;
  if (me === null) return html`${switcher}<${SignIn} t=${t} onIn=${who} />`;
  const Page = PAGES[route.page] ?? Overview;
  const page = PAGES[route.page] ? route.page : 'overview';
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>${t.skip}</a>
    <header>
      <strong>${t.title}</strong>
      <nav aria-label=${t.mainNav}>${Object.keys(PAGES).map((p) => html`<a href=${href(p)} aria-current=${p === page ? 'page' : undefined}>${t[p]}</a>`)}</nav>
      <span class="who">${t.signedInAs} ${me.user}</span>
      ${switcher}
      <button type="button" onClick=${out}>${t.signOut}</button>
    </header>
    <main id="main" tabindex="-1"><${Page} key=${page} t=${t} query=${route.query} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));
