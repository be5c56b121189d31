// Texts in English and Chinese; the language comes from the browser and can be switched (kept
// in localStorage: a preference, never a secret).
const TEXT = {
  en: {
    title: 'Switchboard', signIn: 'Sign in', signOut: 'Sign out', user: 'User name', password: 'Password',
    badLogin: 'Wrong user name or password.', limited: 'Too many attempts; try again later.',
    unavailable: 'The gateway cannot check passwords right now; try again shortly.',
    overview: 'Overview', keys: 'Keys', active: 'Active', dead: 'Dead', disabled: 'Disabled', total: 'Total',
    byProject: 'Keys by project', project: 'Project', cooling: 'Cooling (project, model)', model: 'Model',
    until: 'Until', none: 'None', services: 'Services', keypools: 'Key pools', forwarders: 'Forwarders',
    edges: 'Edges', inflight: 'In flight', language: 'Language', loading: 'Loading…', error: 'Error',
    signedInAs: 'Signed in as',
  },
  zh: {
    title: 'Switchboard', signIn: '登录', signOut: '退出登录', user: '用户名', password: '密码',
    badLogin: '用户名或密码错误。', limited: '尝试次数过多，请稍后再试。',
    unavailable: '网关暂时无法验证密码，请稍后再试。',
    overview: '概览', keys: '密钥', active: '可用', dead: '失效', disabled: '已停用', total: '总数',
    byProject: '按项目统计的密钥', project: '项目', cooling: '冷却中（项目，模型）', model: '模型',
    until: '截止', none: '无', services: '服务', keypools: '密钥池', forwarders: '转发器',
    edges: '入口', inflight: '处理中', language: '语言', loading: '加载中…', error: '错误',
    signedInAs: '当前用户',
  },
};

export function pickLang() {
  const kept = localStorage.getItem('sb.lang');
  if (kept && TEXT[kept]) return kept;
  return (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function texts(lang) { return TEXT[lang] ?? TEXT.en; }

export function keepLang(lang) {
  localStorage.setItem('sb.lang', lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}
