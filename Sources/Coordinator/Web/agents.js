import { api, startSession, element, showMessage } from './farm.js';

const body = document.querySelector('#agents tbody');
const live = document.getElementById('live');
let known = new Map();

function row(agent) {
  const button = element('button', { type: 'button', class: 'secondary',
    text: agent.draining ? 'Resume' : 'Drain', 'aria-label': `${agent.draining ? 'Resume' : 'Drain'} agent ${agent.id}` });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('POST', `/v1/agents/${encodeURIComponent(agent.id)}/drain`, { drain: !agent.draining });
      await refresh();
      document.querySelector(`#agent-${CSS.escape(agent.id)} button`)?.focus();
    } catch (error) { showMessage(error.message); button.disabled = false; }
  });
  const running = agent.tasks && agent.tasks.length ? agent.tasks.join(', ') : '';
  return element('tr', { id: `agent-${agent.id}` },
    element('th', { scope: 'row', text: agent.id }),
    element('td', { text: `${agent.hostname} (${agent.cores} cores)` }),
    element('td', {}, `${agent.running} of ${agent.slots}`, running ? element('br') : '', running ? element('small', { text: running }) : ''),
    element('td', { text: agent.hasLaTeX ? 'yes' : 'no' }),
    element('td', {}, `Manim ${agent.manimVersion}`, agent.environment ? element('br') : '',
      agent.environment ? element('small', { text: agent.environment.slice(0, 12) }) : ''),
    element('td', { text: `${agent.lastSeenSecondsAgo.toFixed(0)} s ago` }),
    element('td', { text: agent.draining ? 'draining' : 'taking work' }),
    element('td', {}, button));
}

async function refresh() {
  const agents = await api('GET', '/v1/agents');
  const now = new Map(agents.map((agent) => [agent.id, agent]));
  const joined = agents.filter((agent) => !known.has(agent.id)).map((agent) => agent.id);
  const left = [...known.keys()].filter((id) => !now.has(id));
  if (known.size && (joined.length || left.length)) {
    live.textContent = [joined.length ? `Joined: ${joined.join(', ')}.` : '', left.length ? `Left: ${left.join(', ')}.` : ''].join(' ');
  }
  known = now;
  document.getElementById('count').textContent = `${agents.length} connected.`;
  // Keep the focus on a button that is redrawn.
  const focused = document.activeElement && document.activeElement.closest('tr') ? document.activeElement.closest('tr').id : null;
  body.replaceChildren(...agents.map(row));
  if (focused) document.querySelector(`#${CSS.escape(focused)} button`)?.focus();
}

startSession().then(async () => {
  await refresh();
  // Agents report heartbeats, not events: the table reads them every two seconds.
  setInterval(() => refresh().catch((error) => showMessage(error.message)), 2000);
}).catch((error) => showMessage(error.message));
