import { api, startSession, follow, element, duration, when, stateBadge, progressBar, hasRole, showMessage } from './farm.js';

const rows = new Map();   // id -> summary
let next = null;
const body = document.querySelector('#videos tbody');
const query = document.getElementById('q');
const stateFilter = document.getElementById('state');
const live = document.getElementById('live');

function matches(video) {
  const wanted = stateFilter.value;
  if (wanted === 'active' && ['done', 'failed', 'cancelled'].includes(video.state)) return false;
  if (wanted && wanted !== 'active' && video.state !== wanted) return false;
  const text = query.value.trim().toLowerCase();
  return !text || [video.scriptName, video.submitter, video.id].some((field) => field.toLowerCase().includes(text));
}

function row(video) {
  const final = ['done', 'failed', 'cancelled'].includes(video.state);
  const actions = element('td');
  if (!final && hasRole('creator')) {
    const cancel = element('button', { type: 'button', class: 'secondary', text: 'Cancel', 'aria-label': `Cancel ${video.scriptName} (${video.id})`,
      'data-focus': `cancel-${video.id}` });
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try { upsert(await api('DELETE', `/v1/videos/${video.id}`)); } catch (error) { showMessage(error.message); cancel.disabled = false; }
    });
    actions.append(cancel);
  }
  const link = element('a', { href: `/videos/${video.id}`, 'data-focus': `open-${video.id}` }, video.scriptName, element('span', { class: 'visually-hidden', text: ` video ${video.id}` }));
  return element('tr', { id: `video-${video.id}`, 'data-state': video.state },
    element('td', {}, link, element('br'), element('small', { text: video.id })),
    element('td', {}, stateBadge(video.state)),
    element('td', {}, final && video.state === 'done' ? element('span', { text: video.frames ? `${video.frames} frames` : 'done' })
      : progressBar(video.progress, `Progress of ${video.scriptName}`)),
    element('td', { text: final ? '—' : duration(video.progress && video.progress.etaSeconds) }),
    element('td', { text: video.submitter }),
    element('td', { text: String(video.priority) }),
    element('td', {}, element('time', { datetime: video.createdAt, text: when(video.createdAt) })),
    actions);
}

function render() {
  const ordered = [...rows.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  const shown = ordered.filter(matches);
  // Rows are redrawn on every change: whoever had the focus in one keeps it in its new self.
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
  body.replaceChildren(...shown.map(row));
  if (focused) { const again = body.querySelector(`[data-focus="${CSS.escape(focused)}"]`); if (again) again.focus(); }
  document.getElementById('count').textContent = `${shown.length} shown of ${ordered.length} loaded.`;
}

// A video's state change is announced; its progress ticks are not (they would drown the reader).
function upsert(video) {
  const known = rows.get(video.id);
  if (!known || known.state !== video.state) live.textContent = `${video.scriptName} is ${video.state}.`;
  rows.set(video.id, { ...known, ...video, progress: video.progress || (known && known.progress) });
  render();
}

async function loadPage() {
  const page = await api('GET', `/v1/videos?limit=50${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
  for (const video of page.videos) if (!rows.has(video.id)) rows.set(video.id, video);
  next = page.next || null;
  document.getElementById('more').hidden = !next;
  render();
}

query.addEventListener('input', render);
stateFilter.addEventListener('change', render);
document.getElementById('filter').addEventListener('submit', (event) => event.preventDefault());
document.getElementById('more').addEventListener('click', () => loadPage().catch((error) => showMessage(error.message)));

startSession().then(async () => {
  await loadPage();
  follow('/v1/events', { video: (video) => upsert(video), busy: () => showMessage('The farm is busy; live updates resume shortly.') });
}).catch((error) => showMessage(error.message));
