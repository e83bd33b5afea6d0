// What every page shares: the session, JSON calls that carry the CSRF token, live events, formats.
const roles = ['viewer', 'creator', 'operator', 'admin'];
export let session = null;

export class APIError extends Error {
  constructor(message, status, field) { super(message); this.status = status; this.field = field; }
}

export async function api(method, path, body, { redirectOn401 = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session && session.csrfToken) headers['X-CSRF-Token'] = session.csrfToken;
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && redirectOn401) {
    location.assign('/signin?next=' + encodeURIComponent(location.pathname));
    throw new APIError('Your session ended; sign in again.', 401, null);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || `${response.status} ${response.statusText}`;
    throw new APIError(message, response.status, response.headers.get('X-Farm-Field'));
  }
  return data;
}

export function hasRole(role) {
  return session !== null && roles.indexOf(session.user.role) >= roles.indexOf(role);
}

// Reads the session, fills the header, and wires sign-out. Every page but sign-in starts here.
export async function startSession() {
  session = await api('GET', '/v1/session');
  document.getElementById('who').textContent = `${session.user.name} (${session.user.role}, team ${session.user.team.name})`;
  for (const item of document.querySelectorAll('.operator-only')) item.hidden = !hasRole('operator');
  const signOut = document.getElementById('signout');
  if (session.authRequired) {
    signOut.hidden = false;
    signOut.addEventListener('click', async () => {
      await api('DELETE', '/v1/session', undefined, { redirectOn401: false }).catch(() => {});
      location.assign('/signin');
    });
  }
  return session;
}

// Server-Sent Events; the browser reconnects by itself and resumes with Last-Event-ID.
export function follow(path, handlers) {
  const source = new EventSource(path, { withCredentials: true });
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data), source));
  }
  return source;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = value; else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null || !isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function when(iso) {
  const date = new Date(iso);
  return isNaN(date) ? '' : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function stateBadge(state) {
  return element('span', { class: `state state-${state}`, text: state });
}

// A <progress> for frames done of expected, or a dash while the length is unknown.
export function progressBar(progress, label) {
  if (!progress || !progress.framesExpected) return element('span', { text: progress ? `${progress.framesDone} frames` : '—' });
  const done = Math.min(progress.framesDone, progress.framesExpected);
  const bar = element('progress', { max: progress.framesExpected, value: done, 'aria-label': label });
  const text = element('span', { class: 'visually-hidden', text: ` ${done} of ${progress.framesExpected} frames` });
  return element('span', {}, bar, text);
}

export function showMessage(text) {
  document.getElementById('message').textContent = text;
}
