// Rust Banyan web monitor. Plain JavaScript, no dependencies: the server aggregates per-topic
// statistics and pushes a snapshot at most 4 times a second, so the page's work does not
// grow with the bus's message rate.
'use strict';

const HISTORY_SECONDS = 300;
const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  paused: false,
  filter: '',
  selected: null,
  snapshot: null,
  rows: new Map(), // topic -> <tr>
  chart: { topic: null, end: -1, rates: [] },
};

// ---------- formatting ----------
function fmtRate(value) {
  if (value === 0) return '0';
  if (value < 10) return value.toFixed(1);
  if (value < 10000) return Math.round(value).toString();
  if (value < 1e6) return (value / 1e3).toFixed(1) + ' k';
  return (value / 1e6).toFixed(2) + ' M';
}
function fmtAxis(value) {
  if (value >= 10000) return fmtRate(value);
  return String(Math.round(value * 100) / 100);
}
function fmtBytes(value) {
  if (value < 1024) return Math.round(value) + ' B';
  if (value < 1024 * 1024) return (value / 1024).toFixed(1) + ' KiB';
  if (value < 1024 * 1024 * 1024) return (value / 1024 / 1024).toFixed(1) + ' MiB';
  return (value / 1024 / 1024 / 1024).toFixed(2) + ' GiB';
}
function fmtCount(value) {
  return value.toLocaleString('en-US');
}
function fmtAge(ms) {
  if (ms < 1000) return 'now';
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s ago';
  if (ms < 3600000) return Math.floor(ms / 60000) + ' min ago';
  return Math.floor(ms / 3600000) + ' h ago';
}
function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

// ---------- connection ----------
function setStatus(kind, text) {
  const el = $('status');
  el.className = 'status ' + kind;
  el.textContent = text;
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(proto + '//' + location.host + '/monitor/ws');
  state.ws = ws;
  ws.onopen = () => {
    setStatus(state.paused ? 'paused' : 'live', state.paused ? 'paused' : 'live');
    if (state.selected) requestHistory(state.selected);
  };
  ws.onclose = () => {
    setStatus('down', 'disconnected – retrying');
    state.ws = null;
    setTimeout(connect, 1000);
  };
  ws.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch (_) { return; }
    handle(message);
  };
}

function send(command) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(command));
  return true;
}

function requestHistory(topic) {
  send({ op: 'history', topic: topic });
}

function handle(message) {
  switch (message.type) {
    case 'snapshot':
      state.snapshot = message;
      extendChart(message);
      if (!state.paused) render(message);
      break;
    case 'history':
      if (message.topic === state.selected) {
        state.chart = { topic: message.topic, end: message.end_second, rates: message.rates.slice() };
        drawChart();
      }
      break;
    case 'published':
      showResult('ok', 'Published on ' + message.topic + ' (' + message.size + ' bytes)');
      break;
    case 'error':
      showResult('error', message.error + ': ' + message.detail);
      break;
  }
}

// ---------- table ----------
function cell(tr, cls, label) {
  const td = document.createElement('td');
  td.className = cls;
  if (label) td.dataset.label = label;
  tr.appendChild(td);
  return td;
}

function makeRow(topic) {
  const tr = document.createElement('tr');
  tr.dataset.topic = topic;
  cell(tr, 'topic').textContent = topic;
  cell(tr, 'num rate', 'msg/s');
  cell(tr, 'num byte-rate', 'bytes/s');
  cell(tr, 'num count', 'count');
  cell(tr, 'num last-seen', 'last seen');
  cell(tr, 'last');
  tr.addEventListener('click', () => select(topic));
  return tr;
}

function render(snapshot) {
  const body = $('topic-rows');
  const visible = snapshot.topics.filter((t) => t.topic.startsWith(state.filter));
  const seen = new Set();
  let previous = null;
  for (const t of visible) {
    seen.add(t.topic);
    let tr = state.rows.get(t.topic);
    if (!tr) {
      tr = makeRow(t.topic);
      state.rows.set(t.topic, tr);
    }
    // Keep rows in snapshot order (sorted by topic) with as few moves as possible.
    const wanted = previous ? previous.nextSibling : body.firstChild;
    if (wanted !== tr) body.insertBefore(tr, wanted);
    previous = tr;
    tr.dataset.rate = t.rate;
    tr.dataset.byteRate = t.byte_rate;
    tr.dataset.count = t.count;
    tr.dataset.lastSeen = t.last_seen_ms;
    const cells = tr.children;
    cells[1].textContent = fmtRate(t.rate);
    cells[2].textContent = fmtBytes(t.byte_rate);
    cells[3].textContent = fmtCount(t.count);
    cells[4].textContent = fmtAge(t.age_ms);
    cells[4].title = new Date(t.last_seen_ms).toLocaleString();
    cells[5].textContent = t.last;
    cells[5].title = t.last;
    cells[5].classList.toggle('bad', !t.last_ok);
    tr.classList.toggle('idle', t.rate === 0);
    tr.classList.toggle('selected', t.topic === state.selected);
    if (t.topic === state.selected) $('detail-payload').textContent = pretty(t.last);
  }
  for (const [topic, tr] of state.rows) {
    if (!seen.has(topic)) {
      tr.remove();
      state.rows.delete(topic);
    }
  }
  $('empty').hidden = visible.length > 0;
  $('empty').textContent = snapshot.topics.length
    ? 'No topic starts with “' + state.filter + '”.'
    : 'No messages yet. Anything published on the backplane shows up here.';

  const total = snapshot.total;
  $('total-topics').textContent = snapshot.topics.length;
  $('total-rate').textContent = fmtRate(total.rate);
  $('total-byte-rate').textContent = fmtBytes(total.byte_rate);
  $('total-count').textContent = fmtCount(total.count);

  const others = $('others');
  others.hidden = snapshot.others.count === 0;
  others.textContent = 'Others (topics beyond the ' + snapshot.max_topics + ' tracked): ' +
    fmtCount(snapshot.others.count) + ' messages, ' + fmtRate(snapshot.others.rate) + ' msg/s';

  const g = snapshot.gateway;
  if (g) {
    $('footer').textContent = g.name + ' · backplane ' + g.backplane + ' · ' + g.clients +
      ' gateway client(s) · ' + g.monitors + ' monitor(s) · relayed ' + fmtCount(g.bus.relayed) +
      ' · dropped ' + fmtCount(g.bus.dropped) + ' · published ' + fmtCount(g.bus.published);
  }
  drawChart();
}

function select(topic) {
  state.selected = topic;
  state.chart = { topic: topic, end: -1, rates: [] };
  $('chart-topic').textContent = topic;
  $('pub-topic').value = $('pub-topic').value || topic;
  for (const [name, tr] of state.rows) tr.classList.toggle('selected', name === topic);
  const t = state.snapshot && state.snapshot.topics.find((x) => x.topic === topic);
  $('detail-payload').textContent = t ? pretty(t.last) : '';
  requestHistory(topic);
  drawChart();
}

// ---------- chart ----------
function extendChart(snapshot) {
  const chart = state.chart;
  if (!state.selected || chart.topic !== state.selected || chart.end < 0) return;
  const complete = snapshot.second - 1;
  if (complete <= chart.end) return;
  if (complete > chart.end + 1) {
    // Snapshots were missed (a background tab): fetch the exact history again.
    requestHistory(state.selected);
    return;
  }
  const t = snapshot.topics.find((x) => x.topic === state.selected);
  chart.rates.push(t ? t.last_second : 0);
  chart.end = complete;
  if (chart.rates.length > HISTORY_SECONDS) chart.rates.splice(0, chart.rates.length - HISTORY_SECONDS);
}

function niceMax(value) {
  if (value <= 1) return 1;
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

function drawChart() {
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const style = getComputedStyle(document.documentElement);
  const muted = style.getPropertyValue('--muted').trim();
  const line = style.getPropertyValue('--line').trim();
  const accent = style.getPropertyValue('--accent').trim();
  const soft = style.getPropertyValue('--accent-soft').trim();
  ctx.font = '11px system-ui, sans-serif';
  const left = 44, right = 8, top = 8, bottom = 20;
  const plotW = width - left - right, plotH = height - top - bottom;

  const rates = state.chart.topic === state.selected ? state.chart.rates : [];
  const max = niceMax(rates.reduce((m, v) => Math.max(m, v), 0));
  ctx.strokeStyle = line;
  ctx.fillStyle = muted;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 5; i++) {
    const y = top + plotH - (plotH * i) / 5;
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y) + 0.5);
    ctx.lineTo(left + plotW, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillText(fmtAxis((max * i) / 5), left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let minute = 5; minute >= 0; minute--) {
    const x = left + plotW - (plotW * minute * 60) / HISTORY_SECONDS;
    ctx.textAlign = minute === 0 ? 'right' : 'center';
    ctx.fillText(minute === 0 ? 'now' : '−' + minute + ' min', x, top + plotH + 5);
  }
  if (!state.selected) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('Click a topic to chart its message rate', left + plotW / 2, top + plotH / 2);
    return;
  }
  if (rates.length === 0) return;
  const step = plotW / HISTORY_SECONDS;
  const x0 = left + plotW - (rates.length - 1) * step;
  const yOf = (v) => top + plotH - (plotH * v) / max;
  ctx.beginPath();
  ctx.moveTo(x0, yOf(rates[0]));
  rates.forEach((v, i) => ctx.lineTo(x0 + i * step, yOf(v)));
  ctx.lineTo(left + plotW, top + plotH);
  ctx.lineTo(x0, top + plotH);
  ctx.closePath();
  ctx.fillStyle = soft;
  ctx.fill();
  ctx.beginPath();
  rates.forEach((v, i) => (i ? ctx.lineTo(x0 + i * step, yOf(v)) : ctx.moveTo(x0, yOf(v))));
  ctx.strokeStyle = accent;
  ctx.lineWidth = 1.5;
  ctx.stroke();
}

// ---------- controls ----------
function showResult(kind, text) {
  const out = $('pub-result');
  out.className = kind;
  out.textContent = text;
}

$('filter').addEventListener('input', (event) => {
  state.filter = event.target.value;
  if (state.snapshot) render(state.snapshot);
});

$('pause').addEventListener('click', () => {
  state.paused = !state.paused;
  const button = $('pause');
  button.textContent = state.paused ? 'Resume' : 'Pause';
  button.setAttribute('aria-pressed', String(state.paused));
  if (state.ws) setStatus(state.paused ? 'paused' : 'live', state.paused ? 'paused' : 'live');
  if (!state.paused && state.snapshot) render(state.snapshot);
});

$('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const topic = $('pub-topic').value.trim();
  let payload;
  try {
    payload = JSON.parse($('pub-payload').value);
  } catch (error) {
    showResult('error', 'Not JSON: ' + error.message);
    return;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    showResult('error', 'The payload must be a JSON object, e.g. {"command": "ping"}');
    return;
  }
  if (!topic) {
    showResult('error', 'Enter a topic');
    return;
  }
  if (send({ op: 'publish', topic: topic, payload: payload })) {
    showResult('', 'Publishing…');
  } else {
    showResult('error', 'Not connected to ws-gateway');
  }
});

window.addEventListener('resize', drawChart);
drawChart();
connect();
