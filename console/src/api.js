// The admin API, same origin. The session is an HttpOnly cookie the browser sends by itself:
// no token is ever kept in script-readable storage. Writes carry JSON and a custom header.
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-sb-console'] = '1';
  const r = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin', cache: 'no-store',
  });
  let json = null;
  try { json = await r.json(); } catch { /* empty */ }
  // a session that ended (expired, signed out elsewhere, password changed): back to sign in
  if (r.status === 401 && path !== '/api/auth/login') dispatchEvent(new Event('sb:signedout'));
  if (!r.ok) throw new ApiError(r.status, json?.error?.message ?? `HTTP ${r.status}`);
  return json;
}
