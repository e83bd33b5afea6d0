import { api, startSession, element, session } from './farm.js';

const form = document.getElementById('submit-form');
const scriptInput = document.getElementById('script');
const sceneList = document.getElementById('scene-list');
const hint = document.getElementById('scenes-hint');
const status = document.getElementById('form-status');
const fields = ['script', 'scenes', 'ladder', 'priority', 'stillSeconds', 'assets'];
let script = null;

function clearErrors() {
  for (const field of fields) {
    document.getElementById(`${field}-error`).textContent = '';
    const input = document.getElementById(field);
    if (input) input.removeAttribute('aria-invalid');
  }
  document.getElementById('form-error').textContent = '';
}

// Shows a refusal beside the field it concerns and moves the focus there.
function fieldError(field, message) {
  const holder = fields.includes(field) ? document.getElementById(`${field}-error`) : null;
  if (!holder) { document.getElementById('form-error').textContent = message; return; }
  holder.textContent = message;
  const input = field === 'scenes' ? sceneList.querySelector('input') : document.getElementById(field);
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

scriptInput.addEventListener('change', async () => {
  clearErrors();
  sceneList.replaceChildren();
  script = null;
  const file = scriptInput.files[0];
  if (!file) { hint.textContent = 'Choose a script to list its scenes.'; return; }
  hint.textContent = 'Reading the script…';
  try {
    const text = await file.text();
    const found = await api('POST', '/v1/scripts/scenes', { script: text });
    script = { name: file.name, text };
    hint.textContent = `${found.scenes.length} scene${found.scenes.length === 1 ? '' : 's'} found; all are rendered unless you untick some.`;
    sceneList.replaceChildren(...found.scenes.map((scene) => {
      const box = element('input', { type: 'checkbox', name: 'scene', value: scene.name, checked: true });
      return element('label', { class: 'scene-choice' }, box, ` ${scene.name}`,
        element('small', { text: ` line ${scene.line}${scene.requiresLaTeX ? ', uses LaTeX' : ''}` }));
    }));
  } catch (error) {
    hint.textContent = 'No scenes listed.';
    fieldError(error.field || 'script', error.message);
  }
});

function base64(buffer) {
  let binary = '';
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  if (!script) { fieldError('script', scriptInput.files[0] ? 'The script has no scenes the farm can render.' : 'Choose a script.'); return; }
  const chosen = [...sceneList.querySelectorAll('input:checked')].map((box) => box.value);
  if (chosen.length === 0) { fieldError('scenes', 'Choose at least one scene.'); return; }
  const body = { script: script.text, scriptName: script.name, scenes: chosen, quality: document.getElementById('quality').value };
  const ladder = document.getElementById('ladder').value.trim();
  if (ladder) {
    const heights = ladder.split(/[\s,]+/).filter(Boolean).map(Number);
    if (heights.some((height) => !Number.isInteger(height) || height <= 0)) { fieldError('ladder', 'Give heights as whole numbers, for example 1080, 720, 480.'); return; }
    body.ladder = heights;
  }
  const priority = Number(document.getElementById('priority').value || '0');
  if (!Number.isInteger(priority)) { fieldError('priority', 'The priority is a whole number.'); return; }
  body.priority = priority;
  const still = Number(document.getElementById('stillSeconds').value || '1');
  if (!isFinite(still)) { fieldError('stillSeconds', 'Give a number of seconds.'); return; }
  body.stillSeconds = still;
  const assets = [...document.getElementById('assets').files];
  if (assets.length) body.assets = await Promise.all(assets.map(async (file) => ({ name: file.name, data: base64(await file.arrayBuffer()) })));
  const button = document.getElementById('submit-button');
  button.disabled = true;
  status.textContent = 'Submitting…';
  try {
    const video = await api('POST', '/v1/videos', body);
    status.textContent = 'Submitted.';
    location.assign(`/videos/${video.id}`);
  } catch (error) {
    status.textContent = '';
    fieldError(error.field, error.message);
  } finally {
    button.disabled = false;
  }
});

startSession().then(() => {
  const priority = document.getElementById('priority');
  priority.max = String(session.maxPriority);
  priority.min = '-1000';
  document.getElementById('priority-help').textContent = `Higher runs first; yours can be at most ${session.maxPriority}.`;
  if (session.user.role === 'viewer') {
    document.getElementById('form-error').textContent = 'Your role is viewer: you can watch videos but not submit them.';
    document.getElementById('submit-button').disabled = true;
  }
}).catch((error) => { document.getElementById('form-error').textContent = error.message; });
