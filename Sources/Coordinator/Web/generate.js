import { api, startSession, element, stateBadge, session } from './farm.js';

const form = document.getElementById('generate-form');
const status = document.getElementById('form-status');
const fields = ['prompt', 'style', 'targetSeconds'];

function clearErrors() {
  for (const field of fields) {
    document.getElementById(`${field}-error`).textContent = '';
    document.getElementById(field).removeAttribute('aria-invalid');
  }
  document.getElementById('form-error').textContent = '';
}

// A refusal beside the field it concerns, with the focus there; otherwise under the button.
function fieldError(field, message) {
  if (!fields.includes(field)) { document.getElementById('form-error').textContent = message; return; }
  document.getElementById(`${field}-error`).textContent = message;
  const input = document.getElementById(field);
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

// One round: what the farm made of the model's script, with the script and the error to open.
function round(item) {
  const outcome = item.endedAt === undefined || item.endedAt === null ? 'in progress'
    : item.error ? `${item.stage}: ${item.error.split('\n')[0]}` : `accepted${item.plannedSeconds ? `, ${item.plannedSeconds.toFixed(1)} s planned` : ''}`;
  const parts = [element('span', { text: `Round ${item.number}: ${outcome}` })];
  if (item.script) {
    parts.push(element('details', {}, element('summary', { text: 'The script' }), element('pre', { text: item.script })));
  }
  if (item.error && item.error.includes('\n')) {
    parts.push(element('details', {}, element('summary', { text: 'The whole error' }), element('pre', { text: item.error })));
  }
  return element('li', { 'data-stage': item.stage || (item.error ? 'failed' : 'accepted') }, ...parts);
}

let shown = '';
function render(job) {
  document.getElementById('job').hidden = false;
  document.getElementById('job-state').replaceChildren(stateBadge(job.state));
  const summary = job.reusedFrom ? `the script of an earlier request (${job.reusedFrom}), no model asked`
    : `${job.rounds.length} round${job.rounds.length === 1 ? '' : 's'} with ${job.model}, ${job.tokens} tokens`;
  document.getElementById('job-summary').textContent = job.error ? `${summary}. ${job.error.split('\n')[0]}` : summary;
  // Redrawn only when something changed, so a reader's open details stay open.
  const key = JSON.stringify(job.rounds.map((item) => [item.endedAt, item.error]));
  if (key !== shown) {
    shown = key;
    document.getElementById('rounds').replaceChildren(...job.rounds.map(round));
  }
  if (job.videoID) {
    document.getElementById('job-video').replaceChildren(element('a', { href: `/videos/${job.videoID}`, id: 'video-link', text: 'Watch the video' }));
  }
}

// The person's last descriptions, each a link back to its job on this page.
async function recent() {
  const page = await api('GET', '/v1/generations?limit=10');
  if (!page.generations.length) return;
  document.getElementById('recent').replaceChildren(...page.generations.map((job) => element('li', {},
    stateBadge(job.state), ' ', element('a', { href: `/generate?job=${job.id}`, text: job.request.prompt.slice(0, 80) }),
    job.videoID ? element('span', {}, ' · ', element('a', { href: `/videos/${job.videoID}`, text: 'video' })) : '')));
}

async function watch(id) {
  for (;;) {
    const job = await api('GET', `/v1/generations/${id}`);
    render(job);
    if (job.state === 'done' || job.state === 'failed' || job.videoID) {
      status.textContent = job.state === 'failed' ? 'No video: see why above.'
        : job.state === 'cancelled' ? 'Cancelled.' : 'The script planned cleanly; its video renders.';
      recent().catch(() => {});
      return job;
    }
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  const prompt = document.getElementById('prompt').value.trim();
  if (!prompt) { fieldError('prompt', 'Describe the video.'); return; }
  const seconds = Number(document.getElementById('targetSeconds').value || '30');
  if (!isFinite(seconds) || seconds < 5 || seconds > 600) { fieldError('targetSeconds', 'Give a length between 5 and 600 seconds.'); return; }
  const body = { prompt, targetSeconds: seconds, quality: document.getElementById('quality').value };
  const style = document.getElementById('style').value.trim();
  if (style) body.style = style;
  if (document.getElementById('fresh').checked) body.fresh = true;
  const button = document.getElementById('generate-button');
  button.disabled = true;
  status.textContent = 'Asking the model…';
  try {
    const job = await api('POST', '/v1/generations', body);
    history.replaceState(null, '', `/generate?job=${job.id}`);
    await watch(job.id);
  } catch (error) {
    status.textContent = '';
    fieldError(error.field, error.message);
  } finally {
    button.disabled = false;
  }
});

startSession().then(() => {
  if (session.user.role === 'viewer') {
    document.getElementById('form-error').textContent = 'Your role is viewer: you can watch videos but not make them.';
    document.getElementById('generate-button').disabled = true;
  }
  recent().catch(() => {});
  const job = new URLSearchParams(location.search).get('job');
  if (job && /^g[0-9a-f]{12}$/.test(job)) watch(job).catch((error) => { document.getElementById('form-error').textContent = error.message; });
}).catch((error) => { document.getElementById('form-error').textContent = error.message; });
