// micado's dashboard: one ES module, no framework. Everything it shows comes from the
// manager's HTTP API (openapi.yaml). The session is the HttpOnly cookie *and* the CSRF
// token this tab keeps in sessionStorage (per origin, port included: a cookie for
// 127.0.0.1 reaches every port of it), sent with every request. Text from the API only
// ever goes into textContent.

const PAGE_SIZE = 50;
const state = {
  csrf: null,
  events: [],          // newest last, at most 1,000
  lastEventId: null,
  socket: null,
  refreshTimer: null,
  pollTimer: null,
  chart: null,
  filters: { containers: '', instances: '', events: '' },
  offsets: { containers: 0, instances: 0 },
  // What the user did on a page, kept across its live redraws.
  follow: true,
  notes: {},   // page key → { text, error }
};

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.csrf) headers['X-CSRF-Token'] = state.csrf;
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new APIError(response.status, data?.error?.code, data?.error?.message ?? response.statusText);
    if ((response.status === 401 || (response.status === 403 && data?.error?.code === 'forbidden')) && path !== '/v1/session') showLogin();
    throw error;
  }
  return data;
}

// Builds an element; strings become text nodes, never markup.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);
const announce = (text) => { $('announce').textContent = text; };
const mib = (value) => value === undefined || value === null ? '–' : `${Math.round(value)} MiB`;
const percent = (value) => value === undefined || value === null ? '–' : `${value.toFixed(1)} %`;
const money = (value) => value === undefined || value === null ? '–' : `$${value.toFixed(4)}`;
const stateCell = (value) => el('td', { class: `state-${value}` }, value);

function age(iso) {
  if (!iso) return '–';
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

function table(caption, columns, rows) {
  return el('table', {},
    el('caption', { class: 'visually-hidden' }, caption),
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.num ? 'num' : undefined }, c.title)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, 'none'))));
}

function pager(key, total, rerender) {
  const offset = state.offsets[key];
  const last = Math.min(total, offset + PAGE_SIZE);
  return el('div', { class: 'pager' },
    el('button', { type: 'button', disabled: offset === 0, onclick: () => { state.offsets[key] = Math.max(0, offset - PAGE_SIZE); rerender(); } }, 'Previous'),
    el('span', { 'aria-live': 'polite' }, total ? `${offset + 1}–${last} of ${total}` : '0 of 0'),
    el('button', { type: 'button', disabled: last >= total, onclick: () => { state.offsets[key] = offset + PAGE_SIZE; rerender(); } }, 'Next'));
}

function confirmDialog(text, action = 'Confirm') {
  return new Promise((resolve) => {
    const dialog = $('confirm');
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = action;
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

function errorBox(error) {
  return el('p', { class: 'error', role: 'alert' }, error.message);
}

// A page's note (an explanation, a result, an error): kept until the user leaves the page.
function note(key) {
  const saved = state.notes[key];
  if (!saved) return el('div', { id: 'note' });
  if (saved.error) return el('div', { id: 'note' }, el('p', { class: 'error', role: 'alert' }, saved.error));
  if (saved.lines) return el('div', { id: 'note' }, el('ul', { id: 'explanation' }, saved.lines.map((line) => el('li', {}, line))));
  return el('div', { id: 'note' }, el('p', { role: 'status' }, saved.text));
}

function setNote(key, value) {
  state.notes[key] = value;
  render();
}

// ---------- pages ----------

async function overviewPage() {
  const [instances, containers, events] = await Promise.all([
    api('GET', '/v1/instances'), api('GET', '/v1/containers?all=true'), api('GET', '/v1/events?limit=300'),
  ]);
  const live = instances.filter((i) => i.state !== 'deleted');
  const cost = live.reduce((sum, i) => sum + (i.pricePerHour ?? 0), 0);
  const byState = {};
  for (const c of containers) byState[c.state] = (byState[c.state] ?? 0) + 1;
  const groups = new Map();
  for (const i of live) {
    const key = `${i.cloud}\u0000${i.location ?? ''}`;
    const g = groups.get(key) ?? { cloud: i.cloud, location: i.location ?? '–', count: 0, reserved: 0, total: 0, price: 0 };
    g.count += 1; g.reserved += i.memoryReservedMiB; g.total += i.memoryTotalMiB ?? 0; g.price += i.pricePerHour ?? 0;
    groups.set(key, g);
  }
  const decisions = events.filter((e) => /^(scaler\.|service\.scale|instance\.(create|draining|replace|deleted)$)/.test(e.kind)).slice(-10).reverse();
  return [
    el('h1', {}, 'Overview'),
    el('div', { class: 'cards' },
      el('div', { class: 'card' }, el('div', { class: 'value', id: 'fleet-cost' }, `${money(cost)}/h`), el('div', { class: 'label' }, 'Fleet cost per hour')),
      el('div', { class: 'card' }, el('div', { class: 'value' }, String(live.length)), el('div', { class: 'label' }, 'Instances')),
      el('div', { class: 'card' }, el('div', { class: 'value' }, String(containers.length)), el('div', { class: 'label' },
        Object.entries(byState).map(([s, n]) => `${n} ${s}`).join(', ') || 'Containers'))),
    el('h2', {}, 'Instances per cloud and location'),
    table('Instances per cloud and location', [
      { title: 'Cloud' }, { title: 'Location' }, { title: 'Instances', num: true }, { title: 'Memory reserved / total', num: true }, { title: 'Price per hour', num: true },
    ], [...groups.values()].map((g) => el('tr', {},
      el('td', {}, g.cloud), el('td', {}, g.location), el('td', { class: 'num' }, String(g.count)),
      el('td', { class: 'num' }, `${g.reserved} / ${g.total || '–'} MiB`), el('td', { class: 'num' }, money(g.price))))),
    el('h2', {}, 'Containers by state'),
    table('Containers by state', [{ title: 'State' }, { title: 'Containers', num: true }],
      Object.entries(byState).map(([s, n]) => el('tr', {}, stateCell(s), el('td', { class: 'num' }, String(n))))),
    el('h2', {}, 'The scaler\u2019s latest decisions'),
    table('The scaler\u2019s latest decisions', [{ title: 'Time' }, { title: 'Kind' }, { title: 'Subject' }, { title: 'Decision' }],
      decisions.map((e) => el('tr', {}, el('td', {}, new Date(e.time).toLocaleTimeString()), el('td', {}, e.kind), el('td', {}, e.subject), el('td', {}, e.message)))),
  ];
}

async function containersPage() {
  const containers = await api('GET', '/v1/containers?all=true');
  const filter = state.filters.containers.toLowerCase();
  const shown = containers.filter((c) => !filter || [c.name, c.application, c.image, c.state, c.node].some((v) => v && v.toLowerCase().includes(filter)));
  if (state.offsets.containers >= shown.length) state.offsets.containers = 0;
  const page = shown.slice(state.offsets.containers, state.offsets.containers + PAGE_SIZE);
  return [
    el('h1', {}, 'Containers'),
    el('div', { class: 'toolbar' },
      el('label', {}, 'Filter', el('input', {
        type: 'search', id: 'container-filter', value: state.filters.containers,
        oninput: (event) => { state.filters.containers = event.target.value; state.offsets.containers = 0; scheduleRender(150); },
      }))),
    table('Containers', [
      { title: 'Name' }, { title: 'Application' }, { title: 'Image' }, { title: 'State' }, { title: 'Node' }, { title: 'Endpoint' },
      { title: 'Domain' }, { title: 'CPU', num: true }, { title: 'Memory used / reserved', num: true },
    ], page.map((c) => el('tr', {},
      el('td', {}, el('a', { href: `#/containers/${encodeURIComponent(c.name)}` }, c.name)),
      el('td', {}, c.application ?? '–'), el('td', {}, c.image),
      el('td', { class: `state-${c.state}` }, c.replicas !== undefined && c.replicas !== null ? `${c.state} (${c.runningReplicas ?? 0}/${c.replicas})` : c.state),
      el('td', {}, c.node ?? '–'), el('td', {}, c.endpoint ?? '–'), el('td', {}, c.domain ?? '–'),
      el('td', { class: 'num' }, percent(c.cpuPercent)), el('td', { class: 'num' }, `${mib(c.memoryUsedMiB)} / ${mib(c.memoryMiB)}`)))),
    pager('containers', shown.length, render),
  ];
}

async function containerPage(name) {
  const [c, usage] = await Promise.all([
    api('GET', `/v1/containers/${encodeURIComponent(name)}`),
    api('GET', `/v1/containers/${encodeURIComponent(name)}/usage?limit=120`),
  ]);
  const logs = el('pre', { class: 'logs', id: 'logs', tabindex: '0', 'aria-label': `Logs of ${c.name}` }, 'loading…');
  const key = `container:${c.name}`;
  const canvas = el('canvas', { id: 'usage-chart', role: 'img', 'aria-label': usageSummary(c.name, usage) });
  const follow = el('input', { type: 'checkbox', id: 'follow', checked: state.follow, onchange: (event) => { state.follow = event.target.checked; loadLogs(c.name, logs); } });
  const quit = async () => {
    if (!await confirmDialog(`Quit ${c.name}? Its tasks stop; the record stays until it is removed.`, 'Quit')) return;
    try { await api('POST', `/v1/containers/${encodeURIComponent(c.name)}/quit`, { remove: false }); announce(`${c.name} quit`); setNote(key, { text: `${c.name} quit` }); }
    catch (error) { setNote(key, { error: error.message }); }
  };
  const remove = async () => {
    if (!await confirmDialog(`Remove ${c.name}? This cannot be undone.`, 'Remove')) return;
    try { await api('DELETE', `/v1/containers/${encodeURIComponent(c.name)}`); announce(`${c.name} removed`); location.hash = '#/containers'; }
    catch (error) { setNote(key, { error: error.message }); }
  };
  const explain = async () => {
    try {
      const view = await api('GET', `/v1/containers/${encodeURIComponent(c.name)}/explain`);
      setNote(key, { lines: view.explanation });
    } catch (error) { setNote(key, { error: error.message }); }
  };
  const fields = [
    ['State', c.state], ['Desired', c.desired], ['Application', c.application], ['Image', c.image], ['Client', c.client],
    ['Node', c.node], ['Endpoint', c.endpoint], ['Domain', c.domain], ['Location', c.location],
    ['Replicas', c.replicas === undefined || c.replicas === null ? undefined : `${c.runningReplicas ?? 0} running of ${c.replicas}`],
    ['Memory reserved', mib(c.memoryMiB)], ['CPU', percent(c.cpuPercent)], ['Memory used', mib(c.memoryUsedMiB)],
    ['Reason', c.reason], ['Created', c.createdAt && new Date(c.createdAt).toLocaleString()],
  ].filter(([, v]) => v !== undefined && v !== null);
  setTimeout(() => { drawChart(canvas, usage); loadLogs(c.name, logs); }, 0);
  return [
    el('p', {}, el('a', { href: '#/containers' }, '← All containers')),
    el('h1', {}, c.name),
    el('div', { class: 'toolbar' },
      el('button', { type: 'button', onclick: explain }, 'Explain'),
      el('button', { type: 'button', class: 'danger', onclick: quit, disabled: c.desired !== 'running' }, 'Quit'),
      el('button', { type: 'button', class: 'danger', onclick: remove, disabled: c.desired === 'running' }, 'Remove')),
    note(key),
    el('dl', { class: 'fields' }, fields.map(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))])),
    el('h2', {}, 'CPU and memory'),
    el('div', { class: 'chart' }, canvas),
    el('h2', {}, 'Logs'),
    el('div', { class: 'toolbar' }, el('label', { for: 'follow', class: 'inline' }, follow, ' Follow')),
    logs,
  ];
}

function usageSummary(name, usage) {
  const latest = usage[usage.length - 1];
  return latest ? `CPU and memory of ${name}: latest ${latest.cpuPercent.toFixed(1)} % CPU, ${Math.round(latest.memoryMiB)} MiB` : `No usage samples of ${name} yet`;
}

function drawChart(canvas, usage) {
  if (!window.Chart || !canvas.isConnected) return;
  state.chart?.destroy();
  state.chart = new window.Chart(canvas, {
    type: 'line',
    data: {
      labels: usage.map((u) => new Date(u.time).toLocaleTimeString()),
      datasets: [
        { label: 'CPU %', data: usage.map((u) => u.cpuPercent), yAxisID: 'cpu', borderColor: '#1f5fbf', pointRadius: 0 },
        { label: 'Memory MiB', data: usage.map((u) => u.memoryMiB), yAxisID: 'memory', borderColor: '#b3261e', pointRadius: 0 },
      ],
    },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { cpu: { position: 'left', beginAtZero: true }, memory: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } },
    },
  });
}

async function loadLogs(name, pre) {
  try {
    const lines = await api('GET', `/v1/containers/${encodeURIComponent(name)}/logs?tail=200`);
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = lines.map((l) => l.text).join('\n') || '(no output yet)';
    if (atBottom || state.follow) pre.scrollTop = pre.scrollHeight;
  } catch (error) {
    pre.textContent = `logs unavailable: ${error.message}`;
  }
}

async function instancesPage() {
  const instances = await api('GET', '/v1/instances');
  const filter = state.filters.instances.toLowerCase();
  const shown = instances.filter((i) => !filter || [i.id, i.hostname, i.cloud, i.state, i.tag, i.location].some((v) => v && v.toLowerCase().includes(filter)));
  const page = shown.slice(state.offsets.instances, state.offsets.instances + PAGE_SIZE);
  const tagInput = el('input', { id: 'stop-tag', required: true, maxlength: '128' });
  const stop = async (event) => {
    event.preventDefault();
    const tag = tagInput.value.trim();
    if (!tag || !await confirmDialog(`Stop every instance tagged ${tag}? Their containers move to other instances first.`, 'Stop')) return;
    try {
      const result = await api('DELETE', `/v1/instances?tag=${encodeURIComponent(tag)}`);
      setNote('instances', { text: `stopping ${Array.isArray(result) ? result.length : 0} instance(s) tagged ${tag}` });
    } catch (error) { setNote('instances', { error: error.message }); }
  };
  return [
    el('h1', {}, 'Instances'),
    el('div', { class: 'toolbar' },
      el('label', {}, 'Filter', el('input', {
        type: 'search', id: 'instance-filter', value: state.filters.instances,
        oninput: (event) => { state.filters.instances = event.target.value; state.offsets.instances = 0; scheduleRender(150); },
      })),
      el('form', { class: 'toolbar', onsubmit: stop }, el('label', { for: 'stop-tag' }, 'Stop by tag', tagInput), el('button', { type: 'submit', class: 'danger' }, 'Stop'))),
    note('instances'),
    table('Instances', [
      { title: 'ID' }, { title: 'Hostname' }, { title: 'Cloud' }, { title: 'Location' }, { title: 'Role' }, { title: 'State' }, { title: 'Why' }, { title: 'Age' },
      { title: 'Flavour' }, { title: 'Tag' }, { title: 'Containers', num: true }, { title: 'Memory reserved / total', num: true }, { title: 'Price per hour', num: true },
    ], page.map((i) => el('tr', {},
      el('td', {}, el('a', { href: `#/events?subject=${encodeURIComponent(i.id)}`, title: 'its lifecycle' }, i.id)),
      el('td', {}, i.hostname), el('td', {}, i.cloud), el('td', {}, i.location ?? '–'), el('td', {}, i.role),
      stateCell(i.state), el('td', { class: 'reason' }, i.reason ?? '–'),
      el('td', {}, age(i.createdAt)), el('td', {}, i.flavour ?? '–'), el('td', {}, i.tag ?? '–'), el('td', { class: 'num' }, String(i.containers)),
      el('td', { class: 'num' }, `${i.memoryReservedMiB} / ${i.memoryTotalMiB ?? '–'} MiB`), el('td', { class: 'num' }, money(i.pricePerHour))))),
    pager('instances', shown.length, render),
  ];
}

async function eventsPage() {
  const filter = state.filters.events.toLowerCase();
  const shown = state.events.filter((e) => !filter || e.subject.toLowerCase().includes(filter) || e.kind.toLowerCase().includes(filter)).slice(-200).reverse();
  return [
    el('h1', {}, 'Events'),
    el('div', { class: 'toolbar' },
      el('label', {}, 'Filter by subject or kind', el('input', {
        type: 'search', id: 'event-filter', value: state.filters.events,
        oninput: (event) => { state.filters.events = event.target.value; scheduleRender(150); },
      }))),
    table('Events, newest first', [{ title: 'Time' }, { title: 'Kind' }, { title: 'Subject' }, { title: 'Message' }],
      shown.map((e) => el('tr', {}, el('td', {}, new Date(e.time).toLocaleTimeString()), el('td', {}, e.kind), el('td', {}, e.subject), el('td', {}, e.message)))),
  ];
}

// ---------- routing, rendering, live updates ----------

function route() {
  const [path, queryText] = (location.hash.replace(/^#/, '') || '/overview').split('?');
  const parts = path.split('/').filter(Boolean);
  return { parts, query: new URLSearchParams(queryText ?? '') };
}

let rendering = false;
let renderAgain = false;
async function render() {
  if (!state.csrf) return;
  if (rendering) { renderAgain = true; return; }
  rendering = true;
  const { parts } = route();
  const page = $('page');
  const focused = document.activeElement?.id;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === `#/${parts[0] ?? 'overview'}`) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  try {
    let content;
    if (parts[0] === 'containers' && parts[1]) content = await containerPage(decodeURIComponent(parts[1]));
    else if (parts[0] === 'containers') content = await containersPage();
    else if (parts[0] === 'instances') content = await instancesPage();
    else if (parts[0] === 'events') content = await eventsPage();
    else content = await overviewPage();
    if (!(parts[0] === 'containers' && parts[1])) { state.chart?.destroy(); state.chart = null; }
    page.replaceChildren(...content);
  } catch (error) {
    if (error.status !== 401) page.replaceChildren(el('h1', {}, 'micado'), errorBox(error));
  } finally {
    rendering = false;
  }
  if (renderAgain) {
    renderAgain = false;
    return render();
  }
  page.hidden = false;
  // A live refresh must not take the keyboard away from the control in use.
  if (focused && $(focused) && document.activeElement !== $(focused)) {
    const input = $(focused);
    input.focus();
    if (input.setSelectionRange && input.type === 'search') input.setSelectionRange(input.value.length, input.value.length);
  }
}

function scheduleRender(delay = 300) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(render, delay);
}

function connectEvents() {
  state.socket?.close();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const after = state.lastEventId === null ? 'backlog=1000' : `after=${state.lastEventId}`;
  // A browser's WebSocket sets no headers: the CSRF token goes as the offered subprotocol.
  const socket = new WebSocket(`${scheme}://${location.host}/v1/events/live?${after}`, [`micado.csrf.${state.csrf}`]);
  state.socket = socket;
  socket.addEventListener('open', () => { $('live').textContent = 'live'; });
  socket.addEventListener('message', (message) => {
    const batch = JSON.parse(message.data);
    if (!batch.length) return;
    state.events.push(...batch);
    if (state.events.length > 1000) state.events.splice(0, state.events.length - 1000);
    state.lastEventId = batch[batch.length - 1].id;
    scheduleRender();
  });
  socket.addEventListener('close', () => {
    if (state.socket !== socket || !state.csrf) return;
    $('live').textContent = 'reconnecting…';
    setTimeout(() => { if (state.socket === socket && state.csrf) connectEvents(); }, 1000);
  });
}

function startLive() {
  connectEvents();
  clearInterval(state.pollTimer);
  // Usage and states change without events too: a slow refresh besides the live log.
  state.pollTimer = setInterval(() => {
    if (document.activeElement?.tagName === 'INPUT' && document.activeElement.type !== 'search') return;
    if ($('confirm').open) return;
    render();
  }, 5000);
}

function showLogin() {
  state.csrf = null;
  sessionStorage.removeItem('micado.csrf');
  state.socket?.close();
  state.socket = null;
  clearInterval(state.pollTimer);
  $('nav').hidden = true;
  $('page').hidden = true;
  $('login').hidden = false;
  $('token').focus();
}

function loggedIn(csrf) {
  state.csrf = csrf;
  sessionStorage.setItem('micado.csrf', csrf);
  applyLinkFilter();
  $('login').hidden = true;
  $('nav').hidden = false;
  startLive();
  render();
  $('main').focus();
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    const session = await api('POST', '/v1/session', { token: $('token').value });
    $('token').value = '';
    loggedIn(session.csrf);
  } catch (error) {
    $('login-error').textContent = error.status === 401 ? 'Wrong token: it is in the micado home\u2019s token file.' : error.message;
  }
});

$('logout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch { /* the session may be gone already */ }
  showLogin();
});

// Leaving a page: its notes go; a link to the events of one subject sets the filter once.
window.addEventListener('hashchange', () => {
  state.offsets.containers = state.offsets.instances = 0;
  state.notes = {};
  applyLinkFilter();
  render().then(() => $('main').focus());
});

function applyLinkFilter() {
  const { parts, query } = route();
  if (parts[0] === 'events' && query.get('subject') !== null) state.filters.events = query.get('subject');
}

// A reload in this tab keeps the session (its CSRF token is in this tab's storage); a new
// tab, or another port, asks for the token.
state.csrf = sessionStorage.getItem('micado.csrf');
if (!state.csrf) {
  showLogin();
} else {
  try {
    await api('GET', '/v1/session');
    loggedIn(state.csrf);
  } catch {
    showLogin();
  }
}
