import { api, startSession, follow, element, duration, stateBadge, progressBar, hasRole, showMessage } from './farm.js';

const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const player = document.getElementById('player');
const summary = document.getElementById('summary');
let announced = { state: null, quarter: -1 };
let source = null;

function animations(scene) {
  if (!scene.animations) return 'whole scene';
  return `${scene.animations.first + 1}–${scene.animations.last + 1}`;
}

function sceneRow(scene) {
  const frames = scene.frames || scene.expectedFrames;
  return element('tr', { 'data-state': scene.state },
    element('th', { scope: 'row', text: scene.name }),
    element('td', { text: animations(scene) }),
    element('td', {}, stateBadge(scene.state), scene.waitingFor ? element('small', { text: ` (waiting for ${scene.waitingFor})` }) : ''),
    element('td', {}, progressBar({ framesDone: scene.framesDone, framesExpected: frames }, `Frames of ${scene.name} ${animations(scene)}`)),
    element('td', { text: String(scene.attempt) }),
    element('td', { text: scene.agent || '—' }),
    element('td', { text: scene.note || '' }));
}

function errorBlock(scene) {
  const block = element('div', {},
    element('h3', { text: `${scene.name}: ${scene.error.failureClass}` }),
    element('p', { text: scene.error.message }));
  if (scene.error.logTail) block.append(element('pre', { tabindex: '0', 'aria-label': `Log of ${scene.name}`, text: scene.error.logTail }));
  return block;
}

// The player starts as soon as the progressive playlists exist; native HLS where the browser
// has it, else the MP4 once the video is done.
function updatePlayer(status) {
  const outputs = status.outputs;
  if (!outputs) return;
  const hls = player.canPlayType('application/vnd.apple.mpegurl') !== '';
  const wanted = hls ? outputs.master : (status.state === 'done' ? outputs.mp4 : null);
  document.getElementById('downloads').hidden = status.state !== 'done';
  document.getElementById('mp4-link').href = outputs.mp4;
  document.getElementById('hls-link').href = outputs.master;
  if (!wanted) return;
  const untouched = player.paused && player.currentTime === 0;
  // A finished video replaces the growing playlist, unless someone is already watching.
  if (!player.getAttribute('src') || (status.state === 'done' && untouched && player.dataset.final !== 'true')) {
    player.setAttribute('src', wanted);
    player.dataset.final = String(status.state === 'done');
    player.hidden = false;
    document.getElementById('player-note').textContent = status.state === 'done'
      ? 'The finished video.' : 'Still rendering: what is rendered so far plays now.';
  }
}

function render(status) {
  document.title = `${status.scriptName} · ManimFarm`;
  document.getElementById('title').textContent = status.scriptName;
  const progress = status.progress || {};
  const overall = document.getElementById('overall');
  if (progress.framesExpected) {
    overall.max = progress.framesExpected;
    overall.value = Math.min(progress.framesDone, progress.framesExpected);
  } else if (status.state === 'done') {
    overall.max = 1; overall.value = 1;
  }
  const frames = progress.framesExpected ? `${progress.framesDone} of ${progress.framesExpected} frames` : `${progress.framesDone || 0} frames`;
  const left = progress.etaSeconds !== undefined && progress.etaSeconds !== null ? `, about ${duration(progress.etaSeconds)} left` : '';
  document.getElementById('overall-text').textContent = `${frames}${left}`;
  // The live region speaks on a state change and at each quarter, not on every frame.
  const quarter = progress.framesExpected ? Math.floor(4 * Math.min(progress.framesDone, progress.framesExpected) / progress.framesExpected) : -1;
  if (announced.state !== status.state || announced.quarter !== quarter) {
    summary.textContent = `${status.state[0].toUpperCase()}${status.state.slice(1)}: ${frames}${left}. Submitted by ${status.submitter}, priority ${status.priority}.`
      + (status.error ? ` ${status.error}` : '');
    announced = { state: status.state, quarter };
  }
  document.querySelector('#scenes tbody').replaceChildren(...status.scenes.map(sceneRow));
  const failed = [status.plan, ...status.scenes].filter((scene) => scene && scene.error);
  document.getElementById('errors-section').hidden = failed.length === 0;
  document.getElementById('errors').replaceChildren(...failed.map(errorBlock));
  const final = ['done', 'failed', 'cancelled'].includes(status.state);
  document.getElementById('cancel').hidden = final || !hasRole('creator');
  updatePlayer(status);
  // The stream ends with the video; without this the browser would reconnect to it forever.
  if (final && source) { source.close(); source = null; }
}

document.getElementById('cancel').addEventListener('click', async (event) => {
  event.target.disabled = true;
  try { render(await api('DELETE', `/v1/videos/${encodeURIComponent(id)}`)); } catch (error) { showMessage(error.message); }
  event.target.disabled = false;
});

startSession().then(async () => {
  render(await api('GET', `/v1/videos/${encodeURIComponent(id)}`));
  source = follow(`/v1/videos/${encodeURIComponent(id)}/events`, {
    status: (status) => render(status),
    gone: (_, stream) => { stream.close(); showMessage('This video no longer exists.'); },
  });
}).catch((error) => { summary.textContent = ''; showMessage(error.message); });
