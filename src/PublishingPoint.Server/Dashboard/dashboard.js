// The operator dashboard: polls /api/points, renders one card per point, and drives the point actions and a
// hls.js preview. Everything it shows comes from the operator API; the key, when the server asks for one, is kept
// in sessionStorage and sent as X-Api-Key. URLs are relative to the page (/dashboard), so a path base works.

const POLL_MS = 1500;
const KEY = 'publishingpoint.operatorKey';
const MAX_TILES = 8; // live pictures playing at once (each is a muted hls.js player on the lowest rendition)
const SVG = 'http://www.w3.org/2000/svg';

const $ = (selector, root = document) => root.querySelector(selector);
const cards = new Map();
let pollTimer = 0;
let waitingForKey = false;
let hls = null;
let serverStatus = { playbackSigned: false };
const tiles = new Map(); // path -> hls.js instance of the card's live picture
const signed = new Map(); // path -> { prefix, expires } when playback signing is on

class StopPolling extends Error {}

// ---- API -------------------------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const key = sessionStorage.getItem(KEY);
  if (key) {
    headers['X-Api-Key'] = key;
  }
  // Every state change is JSON, even without a body: the server refuses one that is neither JSON nor keyed (CSRF).
  const changes = method !== 'GET' && method !== 'HEAD';
  if (changes) {
    headers['Content-Type'] = 'application/json';
  }
  // credentials 'omit': the key goes in the header, and the browser must not answer the 401 with its own prompt
  const response = await fetch(`api/${path}`, {
    method, headers, body: changes ? JSON.stringify(body ?? {}) : undefined, cache: 'no-store', credentials: 'omit',
  });
  if (response.status === 401 || (response.status === 403 && key)) {
    askForKey(response.status === 401
      ? 'The operator API needs the operator key (PublishingPoint:AdminApiKey).'
      : 'That operator key was refused. Enter the right one.');
    throw new StopPolling('operator key needed');
  }
  if (response.status === 403) {
    showBanner('The operator API refused this client: with no PublishingPoint:AdminApiKey configured only loopback clients are let in.');
    throw new StopPolling('forbidden');
  }
  if (!response.ok) {
    throw new Error(`${method} /api/${path}: ${response.status} ${await problemText(response)}`);
  }
  return response.status === 204 ? null : response.json();
}

async function problemText(response) {
  const text = await response.text();
  try {
    const json = JSON.parse(text);
    return typeof json === 'string' ? json : (json.detail ?? json.title ?? text);
  } catch {
    return text;
  }
}

// ---- polling -----------------------------------------------------------------------------------------------

async function poll() {
  clearTimeout(pollTimer);
  try {
    // The points are shown even when the server's own status cannot be read: that failure is a warning of its own.
    const [points, status] = await Promise.all([api('GET', 'points'), api('GET', 'status').catch((e) => {
      if (e instanceof StopPolling) {
        throw e;
      }
      return { failed: e.message };
    })]);
    if (status.failed) {
      renderServerWarnings([`The server's status could not be read: ${status.failed}`]);
    } else {
      serverStatus = status;
      renderServerWarnings(status.warnings);
    }
    await signUrls(points);
    render(points);
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1); // for tests: polls rendered so far
    hideBanner();
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e instanceof StopPolling) {
      return; // resumed when the key dialog closes
    }
    showBanner(`Cannot reach the operator API: ${e.message}`);
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

function render(points) {
  const container = $('#points');
  const seen = new Set();
  let previous = $('#no-points');
  for (const point of points) {
    seen.add(point.path);
    let card = cards.get(point.path);
    if (!card) {
      card = createCard(point.path);
      cards.set(point.path, card);
    }
    // the API's order (by path); a card moves only when it must, as moving a node pauses the video inside it
    if (previous.nextElementSibling !== card) {
      previous.after(card);
    }
    previous = card;
    updateCard(card, point);
  }
  for (const [path, card] of cards) {
    if (!seen.has(path)) {
      stopTile(path);
      card.remove();
      cards.delete(path);
    }
  }
  $('#no-points').hidden = points.length > 0;
  const live = points.filter((p) => p.state === 'live' && p.tracks.some((t) => t.fragments >= 2)).slice(0, MAX_TILES).map((p) => p.path);
  for (const path of [...tiles.keys()].filter((p) => !live.includes(p))) {
    stopTile(path);
  }
  for (const path of live) {
    startTile(path, cards.get(path));
  }
}

function renderServerWarnings(warnings) {
  const list = $('#server-warnings');
  list.hidden = warnings.length === 0;
  list.replaceChildren(...warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
}

function createCard(path) {
  const card = $('#point-template').content.firstElementChild.cloneNode(true);
  card.dataset.path = path;
  $('.path', card).textContent = path;
  card.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) {
      act(path, button.dataset.action);
    }
  });
  return card;
}

function updateCard(card, point) {
  const state = $('.state', card);
  state.textContent = point.state;
  state.className = `state state-${point.state}`;
  card.dataset.state = point.state;
  card.dataset.closed = String(point.closed);
  const meta = [
    point.closed ? 'closed to ingest' : 'open to ingest',
    `DVR ${point.dvrWindowSeconds} s`,
    `archive ${bytes(point.archiveBytes)}`,
    `created ${new Date(point.createdAt).toLocaleString()}${point.createdByOperator ? ' by operator' : ''}`,
  ];
  $('.meta', card).textContent = meta.join(' · ');
  $('[data-action=close]', card).disabled = point.closed;
  $('[data-action=open]', card).disabled = !point.closed;
  $('[data-action=preview]', card).disabled = point.tracks.length === 0;

  const now = Date.now();
  fill($('table.streams', card), point.streams.map((s) => [
    s.id, kbps(s.bitrateBitsPerSecond), spark(s.bitrateHistory), s.connections, s.remoteAddress ?? '–', s.connectedSince ? since(s.connectedSince, now) : '–',
    bytes(s.bytes), s.fragments, s.lastFragmentAt ? `${ago(s.lastFragmentAt, now)} ago` : '–', s.archive ?? '–',
  ]));
  $('.viewers', card).textContent = String(point.viewers);
  $('.egress', card).textContent = kbps(point.egressBitsPerSecond);
  drawSpark($('.egress-spark', card), point.egressHistory);
  const warnings = $('ul.warnings', card);
  warnings.hidden = point.warnings.length === 0;
  warnings.replaceChildren(...point.warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
  renderUrls(card, point);
  fill($('table.tracks', card), point.tracks.map((t) => [
    t.name, t.type, kbps(t.bitrate), t.codec, t.type === 'video' ? `${t.width}×${t.height}` : `${t.samplingRate} Hz × ${t.channels}`,
    t.fragments, `${seconds(t.firstSeconds)}–${seconds(t.lastSeconds)} s`, `${seconds(t.behindLiveEdgeSeconds)} s`, bytes(t.bytesInMemory),
  ]));
}

function fill(table, rows) {
  table.hidden = rows.length === 0;
  $('tbody', table).replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const cell of cells) {
      const td = document.createElement('td');
      if (cell instanceof Node) {
        td.append(cell);
      } else {
        td.textContent = String(cell);
      }
      tr.append(td);
    }
    return tr;
  }));
}

// ---- live pictures, rates and URLs ------------------------------------------------------------------------------

function playbackUrl(point, relative) {
  const prefix = signed.get(point.path)?.prefix ?? '/';
  // relative to the server's root, which is the page's folder (/dashboard sits at the root, behind any path base)
  const root = new URL('.', location.href);
  const path = prefix.replace(/^\//, '').replace(/\/?$/, prefix === '/' ? '' : '/') + relative.split('/').map(encodeURIComponent).join('/');
  return new URL(path, root).href;
}

async function signUrls(points) {
  if (!serverStatus.playbackSigned) {
    signed.clear();
    return;
  }
  for (const point of points) {
    const current = signed.get(point.path);
    if (!current || Date.parse(current.expires) - Date.now() < 10 * 60 * 1000) {
      const answer = await api('POST', `points/${point.path}/sign?ttl=3600`);
      signed.set(point.path, { prefix: new URL(answer.url, location.origin).pathname.replace(new RegExp(`/${point.path}/?$`), '/'), expires: answer.expires });
    }
  }
}

const formats = [['HLS (MPEG-TS)', 'hlsTs'], ['HLS (fMP4)', 'hlsFmp4'], ['DASH', 'dash'], ['Smooth', 'smooth']];

function renderUrls(card, point) {
  const body = $('table.urls tbody', card);
  const rows = formats.map(([label, key]) => {
    const url = playbackUrl(point, point.playbackUrls[key]);
    const tr = document.createElement('tr');
    tr.dataset.format = key;
    const copy = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Copy', title: `Copy the ${label} URL` });
    copy.addEventListener('click', () => copyText(url, copy));
    tr.append(
      Object.assign(document.createElement('th'), { textContent: label }),
      Object.assign(document.createElement('td'), { className: 'url' }),
      Object.assign(document.createElement('td'), {}));
    tr.cells[1].append(Object.assign(document.createElement('code'), { textContent: url }));
    tr.cells[2].append(copy);
    return tr;
  });
  if (body.dataset.urls !== rows.map((r) => r.cells[1].textContent).join(' ')) {
    body.dataset.urls = rows.map((r) => r.cells[1].textContent).join(' ');
    body.replaceChildren(...rows);
  }
}

async function copyText(text, button) {
  try {
    // a browser may hold the promise while it asks the user: after a second, fall back to selecting the text
    await Promise.race([navigator.clipboard.writeText(text), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000))]);
  } catch {
    // not a secure context: select the URL for the operator to copy
    const range = document.createRange();
    range.selectNodeContents(button.closest('tr').cells[1]);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

function spark(values) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 120 24');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.classList.add('spark');
  drawSpark(svg, values);
  return svg;
}

function drawSpark(svg, values) {
  const max = Math.max(1, ...values);
  const step = 120 / Math.max(1, values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(23 - (v / max) * 22).toFixed(1)}`).join(' ');
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points);
  svg.replaceChildren(line);
  svg.dataset.max = String(max);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `last 5 minutes, peak ${kbps(max)}`;
  svg.append(title);
}

function startTile(path, card) {
  if (tiles.has(path) || !card) {
    return;
  }
  const video = $('.tile video', card);
  const label = $('.tile-label', card);
  const source = playbackUrl({ path }, `${path}/master.m3u8`);
  if (window.Hls?.isSupported()) {
    const player = new window.Hls({ startLevel: 0, capLevelToPlayerSize: true, maxBufferLength: 6, liveDurationInfinity: true });
    player.on(window.Hls.Events.ERROR, (_, data) => {
      if (data.fatal) {
        stopTile(path); // the next poll starts it again
        label.textContent = `picture: ${data.details}`;
      }
    });
    player.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    player.loadSource(source);
    player.attachMedia(video);
    tiles.set(path, player);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = source;
    video.play().catch(() => {});
    tiles.set(path, null);
  }
  label.textContent = 'live';
}

function stopTile(path) {
  tiles.get(path)?.destroy();
  tiles.delete(path);
  const card = cards.get(path);
  if (card) {
    const video = $('.tile video', card);
    video.removeAttribute('src');
    video.load();
    $('.tile-label', card).textContent = '';
  }
}

// ---- actions -----------------------------------------------------------------------------------------------

const confirmations = {
  close: (path) => `Close ${path}? Encoders are cut off and refused, and the point becomes VOD now.`,
  delete: (path) => `Delete ${path} and every file of it? This cannot be undone.`,
};

async function act(path, action) {
  if (action === 'preview') {
    preview(path);
    return;
  }
  if (confirmations[action] && !(await confirmDialog(confirmations[action](path)))) {
    return;
  }
  try {
    if (action === 'delete') {
      if (hls && $('#preview-path').textContent === path) {
        stopPreview();
      }
      await api('DELETE', `points/${path}`);
    } else {
      await api('POST', `points/${path}/${action}`);
    }
  } catch (e) {
    if (!(e instanceof StopPolling)) {
      showBanner(e.message, 'action');
      setTimeout(() => hideBanner('action'), 8000);
    }
  }
  poll();
}

function confirmDialog(message) {
  const dialog = $('#confirm');
  $('.message', dialog).textContent = message;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}

function askForKey(message) {
  clearTimeout(pollTimer);
  const dialog = $('#key-dialog');
  $('.message', dialog).textContent = message;
  if (waitingForKey) {
    return;
  }
  waitingForKey = true;
  $('#key-input').value = '';
  dialog.showModal();
}

function setUpKeyDialog() {
  const dialog = $('#key-dialog');
  dialog.addEventListener('cancel', (event) => event.preventDefault()); // Esc: nothing works without a key
  dialog.addEventListener('close', () => {
    waitingForKey = false;
    const key = $('#key-input').value.trim();
    if (key) {
      sessionStorage.setItem(KEY, key);
    }
    $('#forget-key').hidden = !sessionStorage.getItem(KEY);
    poll();
  });
  $('#forget-key').hidden = !sessionStorage.getItem(KEY);
  $('#forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    location.reload();
  });
}

function setUpCreateForm() {
  const form = $('#create');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const ingest = data.getAll('allowedIngest');
    const body = {
      path: String(data.get('path')).trim().replace(/^\/+/, ''),
      dvrWindowSeconds: data.get('dvrWindowSeconds') ? Number(data.get('dvrWindowSeconds')) : null,
      allowedIngest: ingest.length ? ingest : null,
      ingestSecret: data.get('ingestSecret') || null,
      restartOnReconnect: data.get('restartOnReconnect') === 'on',
    };
    const result = $('#create-result');
    try {
      const view = await api('POST', 'points', body);
      result.textContent = `created ${view.path}`;
      form.reset();
    } catch (e) {
      result.textContent = e instanceof StopPolling ? '' : e.message;
    }
    poll();
  });
}

// ---- preview -----------------------------------------------------------------------------------------------

function preview(path) {
  stopPreview();
  const video = $('#preview-video');
  const source = playbackUrl({ path }, `${path}/master.m3u8`);
  $('#preview').hidden = false;
  $('#preview-path').textContent = path;
  status('loading…');
  if (window.Hls?.isSupported()) {
    hls = new window.Hls({ liveDurationInfinity: true });
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (data.fatal) {
        status(`error: ${data.type} ${data.details}`);
      }
    });
    hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => status(`play: ${e.message}`)));
    hls.loadSource(source);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = source; // Safari plays HLS itself
  } else {
    status('this browser cannot play HLS');
  }
}

function stopPreview() {
  hls?.destroy();
  hls = null;
  const video = $('#preview-video');
  video.removeAttribute('src');
  video.load();
  $('#preview').hidden = true;
}

function status(text) {
  $('#preview-status').textContent = text;
}

function setUpPreview() {
  const video = $('#preview-video');
  video.addEventListener('timeupdate', () => {
    const level = hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : null;
    const rendition = level ? ` · ${level.width}×${level.height} ${kbps(level.bitrate)}` : '';
    status(`playing at ${video.currentTime.toFixed(1)} s${rendition}`);
  });
  $('#preview-stop').addEventListener('click', stopPreview);
}

// ---- formatting --------------------------------------------------------------------------------------------

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function kbps(bitsPerSecond) {
  return `${Math.round(bitsPerSecond / 1000)} kbps`;
}

function seconds(s) {
  return (Math.abs(s) < 0.05 ? 0 : s).toFixed(1); // no "-0.0" for an AAC priming offset
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) {
    return `${s} s`;
  }
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function ago(iso, now) {
  return duration(now - Date.parse(iso));
}

function since(iso, now) {
  return `${new Date(iso).toLocaleTimeString()} (${ago(iso, now)})`;
}

// kind: 'api' (the last poll failed; cleared by the next good one) or 'action' (a refused action; cleared later)
function showBanner(text, kind = 'api') {
  const banner = $('#banner');
  banner.textContent = text;
  banner.dataset.kind = kind;
  banner.hidden = false;
}

function hideBanner(kind = 'api') {
  const banner = $('#banner');
  if (banner.dataset.kind === kind) {
    banner.hidden = true;
  }
}

setUpKeyDialog();
setUpCreateForm();
setUpPreview();
poll();
