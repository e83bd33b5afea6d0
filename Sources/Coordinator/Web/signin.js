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
    const signedIn = await api('POST', '/v1/session', { key: key.value.trim() }, { redirectOn401: false });
    // A browser keeps a Secure cookie only from HTTPS (or loopback): say so rather than loop back here.
    if (signedIn.authRequired) {
      const kept = await api('GET', '/v1/session', undefined, { redirectOn401: false }).then(() => true, () => false);
      if (!kept) {
        error.textContent = 'Your browser did not keep the session cookie: open these pages over HTTPS (or on this machine, 127.0.0.1).';
        return;
      }
    }
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
