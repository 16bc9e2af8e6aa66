/**
 * The console's browser script (an ES module, served as is): fetches the console's JSON and builds
 * the views with DOM calls (text nodes only, so titles can never inject markup).
 */
export const CONSOLE_CLIENT_JS = String.raw`
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// The API's credential, when its auth is on: kept for this tab only, sent as a bearer token
// (an API key or a JWT, as the API accepts either there).
const KEY = 'netflicks.apiKey';

function storedKey() {
  try { return sessionStorage.getItem(KEY) || ''; } catch { return ''; }
}

async function request(path, init) {
  const key = storedKey();
  const headers = Object.assign({ accept: 'application/json' }, init && init.headers, key ? { authorization: 'Bearer ' + key } : {});
  const res = await fetch(path, Object.assign({}, init, { headers }));
  const body = await res.json().catch(() => ({ message: res.statusText }));
  const refused = res.status === 401 || res.status === 403;
  if (refused) askForKey(body.message, key !== '');
  if (!res.ok) throw Object.assign(new Error(body.message || ('HTTP ' + res.status)), { auth: refused });
  return body;
}

function getJson(path) {
  return request(path);
}

function askForKey(message, refused) {
  const panel = $('key-panel');
  const error = $('key-error');
  error.textContent = (refused ? 'The key was not accepted: ' : 'The API answered: ') + (message || 'unauthorized');
  error.hidden = false;
  if (panel.hidden) {
    panel.hidden = false;
    $('api-key').focus();
  }
}

function showKeyStatus() {
  $('key-forget').hidden = storedKey() === '';
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $('api-key').value.trim();
  if (!key) return;
  try { sessionStorage.setItem(KEY, key); } catch { /* storage off: the key lasts until reload */ }
  $('api-key').value = '';
  $('key-panel').hidden = true;
  $('key-error').hidden = true;
  showKeyStatus();
  start();
});

$('key-forget').addEventListener('click', () => {
  try { sessionStorage.removeItem(KEY); } catch { /* nothing stored */ }
  showKeyStatus();
  $('key-panel').hidden = false;
  $('key-error').hidden = true;
  $('api-key').focus();
});

function movieLine(m) {
  return m.title + (m.year ? ' (' + m.year + ')' : '');
}

function movieLink(m) {
  return el('a', { href: '#movie/' + m.movieId }, movieLine(m));
}

function stars(rating) {
  return rating.toFixed(1) + '/5';
}

let overview = null;

async function loadOverview() {
  if (overview) return;
  overview = await getJson('/console/api/overview');
  const m = overview.model;
  $('model-line').textContent = 'Serving ' + m.name + ' ' + (m.version !== null ? 'v' + m.version : m.label) + ' · ' + overview.users + ' users · ' + overview.movies + ' movies';
  const select = $('genre');
  for (const g of overview.genres) select.append(el('option', { value: g }, g));
  const picks = $('sample-users');
  for (const id of overview.sampleUsers) {
    const b = el('button', { type: 'button', class: 'pick', 'aria-label': 'Show user ' + id }, String(id));
    b.addEventListener('click', () => { $('user-id').value = String(id); showUser(); });
    picks.append(b);
  }
}

function renderRecommendations(recs, listId, strategyId) {
  $(strategyId || 'strategy-line').textContent = 'Strategy: ' + recs.strategy + '. ' + recs.explanation;
  const list = $(listId || 'recommendations');
  list.replaceChildren();
  const top = recs.items.length > 0 ? Math.max(...recs.items.map((i) => i.score)) : 1;
  for (const item of recs.items) {
    const width = top > 0 ? Math.max(4, Math.round((item.score / top) * 80)) : 4;
    const li = el('li', {},
      el('div', { class: 'title' }, movieLink(item)),
      el('div', { class: 'meta' }, item.genres.join(', ') || 'no genres'),
      el('div', { class: 'why' }, el('span', { class: 'bar', style: 'width:' + width + 'px', 'aria-hidden': 'true' }), item.why));
    if (item.because.length > 0) {
      const because = el('ul', { class: 'because', 'aria-label': 'Because you rated' });
      for (const b of item.because) because.append(el('li', {}, 'because you rated ' + movieLine(b) + ' ' + stars(b.rating) + ' (similarity ' + b.similarity.toFixed(2) + ')'));
      li.append(because);
    }
    list.append(li);
  }
  if (recs.items.length === 0) list.append(el('li', {}, 'Nothing qualifies (try another genre).'));
}

function renderHistory(history) {
  const body = $('history').querySelector('tbody');
  body.replaceChildren();
  const from = history.source === 'database' ? 'from the database' : 'from the model file (no rating times without a database)';
  $('history-note').textContent = history.total === 0
    ? 'No ratings yet.'
    : history.total + ' rating' + (history.total === 1 ? '' : 's') + ' ' + from + (history.total > history.entries.length ? ', newest ' + history.entries.length + ' shown' : '') + '.';
  for (const h of history.entries) {
    const when = h.ratedAt ? new Date(h.ratedAt).toISOString().slice(0, 10) : '—';
    body.append(el('tr', {},
      el('td', { class: 'text' }, movieLink({ movieId: h.movieId, title: h.title, year: null }), h.fresh ? ' ' : '', h.fresh ? el('span', { class: 'badge', title: 'newer than the model: folded in at request time' }, 'new') : ''),
      el('td', { class: 'num' }, h.year ?? ''),
      el('td', { class: 'text' }, h.genres.join(', ')),
      el('td', { class: 'num' }, stars(h.rating)),
      el('td', { class: 'num' }, when)));
  }
}

async function showUser() {
  const raw = $('user-id').value.trim();
  const error = $('user-error');
  error.hidden = true;
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) {
    error.textContent = 'A user id is a whole number from 1 up.';
    error.hidden = false;
    return;
  }
  const genre = $('genre').value;
  const query = genre ? '?genre=' + encodeURIComponent(genre) : '';
  try {
    const [history, recs] = await Promise.all([
      getJson('/console/api/users/' + raw + '/history'),
      getJson('/console/api/users/' + raw + '/recommendations' + query),
    ]);
    renderHistory(history);
    renderRecommendations(recs);
    $('user-result').hidden = false;
    window.history.replaceState(null, '', '#user/' + raw);
  } catch (err) {
    error.textContent = 'Could not load user ' + raw + ': ' + err.message;
    error.hidden = false;
  }
}

const METRIC_ORDER = ['rmse', 'mae', 'precision', 'recall', 'ndcg', 'map', 'hitrate', 'coverage'];
function metricRank(name) {
  const i = METRIC_ORDER.indexOf(name.split('@')[0]);
  return i < 0 ? METRIC_ORDER.length : i;
}

function metricsList(metrics, names) {
  return names.sort((a, b) => metricRank(a) - metricRank(b) || a.localeCompare(b)).map((n) => n + ' ' + Number(metrics[n]).toFixed(4)).join(' · ');
}

/** The served model's metrics in one line; its components' (als.rmse, …) folded away per algorithm. */
function metricsCell(metrics) {
  const names = Object.keys(metrics);
  if (names.length === 0) return '—';
  const own = names.filter((n) => !n.includes('.'));
  const parts = [];
  const byComponent = new Map();
  for (const n of names.filter((n) => n.includes('.'))) {
    const [component, metric] = [n.slice(0, n.indexOf('.')), n.slice(n.indexOf('.') + 1)];
    if (!byComponent.has(component)) byComponent.set(component, {});
    byComponent.get(component)[metric] = metrics[n];
  }
  parts.push(el('div', {}, own.length > 0 ? metricsList(metrics, own) : '—'));
  if (byComponent.size > 0) {
    const list = el('ul', { class: 'components' });
    for (const [component, m] of byComponent) list.append(el('li', {}, el('strong', {}, component), ' ' + metricsList(m, Object.keys(m))));
    parts.push(el('details', {}, el('summary', {}, 'per algorithm (' + byComponent.size + ')'), list));
  }
  return parts;
}

function percentBar(rate) {
  return el('span', {}, el('span', { class: 'bar', style: 'width:' + Math.max(2, Math.round(rate * 120)) + 'px', 'aria-hidden': 'true' }), (rate * 100).toFixed(1) + '%');
}

function renderOnline(online) {
  const body = $('online').querySelector('tbody');
  body.replaceChildren();
  $('online').parentElement.hidden = online.length === 0;
  $('online-note').textContent = online.length === 0
    ? 'No evaluated lists yet: run the online evaluator (netflicks evaluate-online) with recommendation events flowing.'
    : 'A list is a hit when the user rates or watches one of its movies within 24 h (the evaluator\'s default series); summed over every evaluated hour.';
  for (const o of online) {
    body.append(el('tr', {},
      el('td', { class: 'num' }, o.modelVersion),
      el('td', { class: 'num' }, o.strategy),
      el('td', { class: 'num' }, o.requests),
      el('td', { class: 'num' }, percentBar(o.hitRate)),
      el('td', { class: 'num' }, percentBar(o.clickThroughRate))));
  }
}

/** An SVG document rendered by the server (its text escaped there), parsed as XML, never as HTML. */
function insertSvg(container, markup) {
  const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
  if (doc.documentElement.nodeName !== 'svg') return;
  container.replaceChildren(document.importNode(doc.documentElement, true));
}

function renderTrainingRuns(runs, source) {
  const body = $('runs').querySelector('tbody');
  body.replaceChildren();
  $('runs-note').textContent = source !== 'registry'
    ? 'Training runs are listed when the API follows the registry.'
    : runs.length === 0
      ? 'No training run has registered a version yet.'
      : 'From the registry: each run that registered a version, newest first. A run that failed before registering is not in the database (on Kubernetes: kubectl get trainingruns).';
  for (const r of runs) {
    body.append(el('tr', {},
      el('td', { class: 'text' }, r.run || r.createdBy),
      el('td', { class: 'num' }, 'v' + r.version),
      el('td', { class: 'num' }, el('span', { class: r.state === 'live' ? 'badge live' : 'badge' }, r.state)),
      el('td', { class: 'text' }, r.algorithms.join(', ')),
      el('td', { class: 'num' }, r.ratings ?? '—'),
      el('td', { class: 'num' }, r.seconds === null ? '—' : r.seconds.toFixed(1) + ' s'),
      el('td', { class: 'num' }, r.createdAt.slice(0, 16).replace('T', ' '))));
  }
}

async function showModels() {
  const data = await getJson('/console/api/models');
  renderOnline(data.online);
  const chart = $('online-chart');
  if (data.onlineChart) {
    insertSvg(chart, data.onlineChart);
    $('online-chart-caption').textContent = 'Per evaluated bucket (' + data.onlineBuckets + ' shown, newest last); one line per model version and strategy.';
  }
  $('online-figure').hidden = !data.onlineChart;
  renderTrainingRuns(data.trainingRuns, data.source);
  const body = $('models').querySelector('tbody');
  body.replaceChildren();
  if (data.source !== 'registry') {
    $('models-note').textContent = data.serving
      ? 'Serving a model file (sha256 ' + data.serving.sha256.slice(0, 12) + '…, loaded ' + data.serving.loadedAt + '); the registry lists versions when the API follows it (MODEL_NAME).'
      : 'No model is loaded yet.';
    return;
  }
  $('models-note').textContent = data.versions.length + ' version' + (data.versions.length === 1 ? '' : 's') + ' of ' + data.serving.name + '; serving v' + data.serving.version + '.';
  for (const v of data.versions) {
    body.append(el('tr', {},
      el('td', {}, 'v' + v.version, v.version === data.serving.version ? ' (serving)' : ''),
      el('td', {}, el('span', { class: v.live ? 'badge live' : 'badge' }, v.state)),
      el('td', { class: 'text' }, v.algorithms.join(', ')),
      el('td', { class: 'text' }, ...[].concat(metricsCell(v.metrics))),
      el('td', {}, v.ratings ?? '—'),
      el('td', {}, v.createdAt.slice(0, 16).replace('T', ' '))));
  }
}

// A fresh id per page load, far above the ids datasets use.
const tryUser = 2000000000 + Math.floor(Math.random() * 100000000);
const tryRated = new Map();

async function refreshTry(expected) {
  // Fresh ratings are cached briefly by the API: poll until the list reflects them (or give up).
  const deadline = Date.now() + 10000;
  for (;;) {
    const recs = await getJson('/console/api/users/' + tryUser + '/recommendations');
    if (recs.historySize >= expected || Date.now() > deadline) {
      renderRecommendations(recs, 'try-recommendations', 'try-strategy');
      if (recs.historySize < expected) $('try-strategy').textContent += ' (your latest rating is not visible yet: is ingest running?)';
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

async function rate(movieId, rating) {
  const error = $('try-error');
  error.hidden = true;
  try {
    await request('/console/api/users/' + tryUser + '/ratings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ movieId, rating }),
    });
    tryRated.set(movieId, rating);
    await refreshTry(tryRated.size);
  } catch (err) {
    error.textContent = 'Could not rate: ' + err.message;
    error.hidden = false;
  }
}

let tryReady = false;
function setUpTry() {
  if (tryReady || !overview) return;
  tryReady = true;
  $('try-user').textContent = String(tryUser);
  $('try-min').textContent = String(overview.minHistory ?? 5);
  $('try-transport').textContent = overview.ratings === 'kafka'
    ? 'Ratings go to Kafka; ingest writes them to the database.'
    : overview.ratings === 'database' ? 'Ratings go to the database through the ingest write path.' : 'This API cannot store ratings (no Kafka or database).';
  const list = $('rate-list');
  for (const m of overview.popular) {
    const id = 'rate-' + m.movieId;
    const select = el('select', { id, 'aria-label': 'Rate ' + movieLine(m) }, el('option', { value: '' }, 'not rated'));
    for (let r = 5; r >= 0.5; r -= 0.5) select.append(el('option', { value: String(r) }, r.toFixed(1) + '/5'));
    select.disabled = overview.ratings === null;
    select.addEventListener('change', () => { if (select.value) rate(m.movieId, Number(select.value)); });
    list.append(el('li', {}, el('div', { class: 'title' }, movieLine(m)), el('div', { class: 'meta' }, m.genres.join(', ')), select));
  }
  refreshTry(0).catch((err) => { $('try-strategy').textContent = err.message; });
}

async function showMovie(movieId) {
  const error = $('movie-error');
  error.hidden = true;
  try {
    const [movie, similar] = await Promise.all([getJson('/movies/' + movieId), getJson('/similar/' + movieId + '?k=10')]);
    $('movie-title').textContent = movieLine(movie);
    $('movie-details').textContent = (movie.genres.join(', ') || 'no genres') + ' · ' + movie.ratings + ' rating' + (movie.ratings === 1 ? '' : 's') + ' in training · popularity rank ' + movie.popularityRank + ' of ' + overview.movies;
    $('similar-note').textContent = similar.strategy === 'cf'
      ? 'By collaborative filtering: cosine of the movies\' factors (1 = liked by the same people).'
      : 'By metadata (genres, tags): this movie has no ratings in training.';
    const list = $('similar');
    list.replaceChildren();
    for (const s of similar.items) list.append(el('li', {}, el('div', { class: 'title' }, movieLink(s)), el('div', { class: 'meta' }, s.genres.join(', ') + ' · similarity ' + s.score.toFixed(2))));
  } catch (err) {
    error.textContent = 'Could not load movie ' + movieId + ': ' + err.message;
    error.hidden = false;
  }
}

const SVG = 'http://www.w3.org/2000/svg';
const rates = [];
let lastStats = null;
let serviceTimer = null;

function ms(seconds) {
  return seconds === null ? '—' : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + ' ms';
}

function drawRates() {
  const svg = $('rate-chart');
  svg.replaceChildren();
  const w = 600, h = 120, pad = 4;
  const top = Math.max(1, ...rates);
  const axis = document.createElementNS(SVG, 'text');
  axis.setAttribute('x', '6');
  axis.setAttribute('y', '14');
  axis.setAttribute('font-size', '12');
  axis.setAttribute('fill', '#565661');
  axis.textContent = 'max ' + top.toFixed(1) + '/s';
  svg.append(axis);
  if (rates.length < 2) return;
  const points = rates.map((r, i) => (pad + (i * (w - 2 * pad)) / 59).toFixed(1) + ',' + (h - pad - (r / top) * (h - 2 * pad - 16)).toFixed(1));
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#b00020');
  line.setAttribute('stroke-width', '2');
  svg.append(line);
}

async function pollService() {
  const stats = await getJson('/console/api/service');
  const perRoute = new Map();
  if (lastStats) {
    const dt = (Date.parse(stats.at) - Date.parse(lastStats.at)) / 1000;
    const before = new Map(lastStats.routes.map((r) => [r.route, r.requests]));
    let total = 0;
    for (const r of stats.routes) {
      const rate = dt > 0 ? (r.requests - (before.get(r.route) || 0)) / dt : 0;
      perRoute.set(r.route, rate);
      total += rate;
    }
    rates.push(total);
    if (rates.length > 60) rates.shift();
  }
  lastStats = stats;
  const served = stats.served.map((s) => s.strategy + ' ' + s.lists).join(', ') || 'none yet';
  $('service-summary').textContent = 'Up ' + stats.uptimeSeconds + ' s · memory ' + (stats.rssBytes / 1048576).toFixed(0) + ' MiB · lists served by strategy: ' + served
    + ' · model loads ' + stats.modelLoads.count + (stats.modelLoads.meanSeconds !== null ? ' (mean ' + ms(stats.modelLoads.meanSeconds) + ')' : '')
    + (stats.model ? ' · serving ' + stats.model.name + (stats.model.version !== null ? ' v' + stats.model.version : '')
      + (stats.model.fileBytes !== null ? ', a ' + (stats.model.fileBytes / 1048576).toFixed(1) + ' MiB model file' : '')
      + ', loaded ' + stats.model.loadedAt.slice(0, 19).replace('T', ' ') + ' UTC' : '');
  const body = $('routes').querySelector('tbody');
  body.replaceChildren();
  for (const r of stats.routes) {
    const rate = perRoute.get(r.route);
    body.append(el('tr', {},
      el('td', { class: 'text' }, r.route),
      el('td', { class: 'num' }, r.requests),
      el('td', { class: 'num' }, rate === undefined ? '…' : rate.toFixed(2)),
      el('td', { class: 'num' }, ms(r.p50)),
      el('td', { class: 'num' }, ms(r.p95)),
      el('td', { class: 'num' }, ms(r.p99)),
      el('td', { class: 'num' }, r.errors5xx)));
  }
  drawRates();
}

function showService(on) {
  if (on && serviceTimer === null) {
    const tick = () => pollService().catch((err) => { $('service-note').textContent = 'Could not read the metrics: ' + err.message; });
    tick();
    serviceTimer = setInterval(tick, 2000);
  } else if (!on && serviceTimer !== null) {
    clearInterval(serviceTimer);
    serviceTimer = null;
  }
}

function schemaText(schema) {
  if (!schema) return '';
  if (schema.$ref) return schema.$ref.split('/').pop();
  const parts = [schema.type || ''];
  if (schema.enum) parts.push('one of ' + schema.enum.join(', '));
  if (schema.minimum !== undefined || schema.maximum !== undefined) parts.push((schema.minimum ?? '…') + '..' + (schema.maximum ?? '…'));
  if (schema.maxLength !== undefined) parts.push('≤ ' + schema.maxLength + ' characters');
  if (schema.default !== undefined) parts.push('default ' + schema.default);
  return parts.filter(Boolean).join(', ');
}

let docsDone = false;
async function showDocs() {
  if (docsDone) return;
  const doc = await getJson('/openapi.json');
  docsDone = true;
  const root = $('docs');
  root.append(el('p', {}, doc.info.title + ' ' + doc.info.version + (doc.info.description ? ': ' + doc.info.description : '')));
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const card = el('section', { class: 'op', 'aria-label': method.toUpperCase() + ' ' + path },
        el('h3', {}, el('code', {}, method.toUpperCase() + ' ' + path)),
        el('p', {}, op.summary || op.description || ''));
      if (op.parameters && op.parameters.length > 0) {
        const rows = op.parameters.map((p) => el('tr', {},
          el('td', { class: 'num' }, el('code', {}, p.name)), el('td', { class: 'num' }, p.in + (p.required ? ', required' : '')),
          el('td', { class: 'text' }, schemaText(p.schema)), el('td', { class: 'text' }, p.description || '')));
        card.append(el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Parameter'), el('th', { scope: 'col' }, 'In'), el('th', { scope: 'col' }, 'Schema'), el('th', { scope: 'col' }, 'Meaning'))),
          el('tbody', {}, ...rows))));
      }
      const responses = el('ul', { class: 'responses' });
      for (const [status, r] of Object.entries(op.responses || {})) {
        const schema = r.content && r.content['application/json'] ? schemaText(r.content['application/json'].schema) : '';
        responses.append(el('li', {}, el('strong', {}, status), ' ' + (r.description || '') + (schema ? ' (' + schema + ')' : '')));
      }
      card.append(responses);
      root.append(card);
    }
  }
}

const VIEWS = ['user', 'try', 'movie', 'models', 'service', 'docs'];

function route() {
  const hash = location.hash.replace(/^#/, '');
  const movie = /^movie\/([0-9]+)$/.exec(hash);
  const view = movie ? 'movie' : VIEWS.includes(hash) ? hash : 'user';
  for (const v of VIEWS) {
    $('view-' + v).hidden = v !== view;
    const nav = $('nav-' + v);
    if (!nav) continue;
    if (v === view) nav.setAttribute('aria-current', 'page');
    else nav.removeAttribute('aria-current');
  }
  if (movie) showMovie(movie[1]);
  showService(view === 'service');
  if (view === 'docs') showDocs().catch((err) => { $('docs').textContent = 'Could not load the OpenAPI document: ' + err.message; });
  const models = view === 'models';
  if (view === 'try') setUpTry();
  if (models) showModels().catch((err) => { $('models-note').textContent = 'Could not load the registry: ' + err.message; });
  const user = /^user\/([0-9]+)$/.exec(hash);
  if (user && $('user-id').value !== user[1]) { $('user-id').value = user[1]; showUser(); }
}

function start() {
  $('model-line').textContent = 'loading the model…';
  loadOverview().then(route, (err) => { $('model-line').textContent = err.auth ? 'Waiting for an API key' : 'No model: ' + err.message; });
}

$('user-form').addEventListener('submit', (e) => { e.preventDefault(); showUser(); });
window.addEventListener('hashchange', route);
showKeyStatus();
start();
`;
