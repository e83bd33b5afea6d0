import { api } from './farm.js';

const form = document.getElementById('signin-form');
const key = document.getElementById('key');
const error = document.getElementById('key-error');

// Only a path of this site: a sign-in link must not send anyone elsewhere.
function nextPage() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  key.removeAttribute('aria-invalid');
  if (!key.value.trim()) {
    error.textContent = 'Enter your API key.';
    key.setAttribute('aria-invalid', 'true');
    key.focus();
    return;
  }
  try {
    await api('POST', '/v1/session', { key: key.value.trim() }, { redirectOn401: false });
    location.assign(nextPage());
  } catch (failure) {
    error.textContent = failure.message;
    key.setAttribute('aria-invalid', 'true');
    key.focus();
  }
});

// Already signed in (or a coordinator without keys): say so.
api('GET', '/v1/session', undefined, { redirectOn401: false }).then((current) => {
  document.getElementById('who').textContent = `Signed in as ${current.user.name}`;
  if (!current.authRequired) error.textContent = '';
}).catch(() => {});
