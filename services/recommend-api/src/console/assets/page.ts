/** The console's page: one document, views switched by the client script (no framework). */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Netflicks console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/console.js"></script>
</head>
<body>
<header>
  <h1>Netflicks</h1>
  <nav aria-label="Views">
    <a href="#user" id="nav-user">User</a>
    <a href="#try" id="nav-try">Try it as a new user</a>
    <a href="#models" id="nav-models">Models</a>
    <a href="#service" id="nav-service">Service</a>
    <a href="#docs" id="nav-docs">API</a>
  </nav>
  <p id="model-line" class="muted" aria-live="polite">loading the model…</p>
  <button type="button" id="key-forget" class="quiet" hidden>Forget API key</button>
</header>
<main>
  <section id="key-panel" class="key" aria-labelledby="key-title" hidden>
    <h2 id="key-title">API key</h2>
    <p>This API requires credentials. Enter an API key (or a bearer token): it is kept in this browser tab only (sessionStorage) and sent as <code>Authorization: Bearer …</code>.</p>
    <form id="key-form" class="controls">
      <label for="api-key">API key</label>
      <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Use key</button>
    </form>
    <p id="key-error" class="error" role="alert" hidden></p>
  </section>
  <section id="view-user" aria-labelledby="user-title">
    <h2 id="user-title">User</h2>
    <form id="user-form" class="controls">
      <label for="user-id">User id</label>
      <input id="user-id" name="user" inputmode="numeric" pattern="[0-9]*" autocomplete="off" required>
      <label for="genre">Genre</label>
      <select id="genre" name="genre"><option value="">any genre</option></select>
      <button type="submit">Show</button>
    </form>
    <p class="muted">Pick a user: <span id="sample-users"></span></p>
    <p id="user-error" class="error" role="alert" hidden></p>
    <div id="user-result" hidden>
      <p id="strategy-line" class="strategy"></p>
      <div class="columns">
        <section aria-labelledby="recs-title">
          <h3 id="recs-title">Recommendations</h3>
          <ol id="recommendations" class="cards"></ol>
        </section>
        <section aria-labelledby="history-title">
          <h3 id="history-title">Rating history</h3>
          <p id="history-note" class="muted"></p>
          <div class="table-wrap">
            <table id="history">
              <thead><tr><th scope="col">Title</th><th scope="col">Year</th><th scope="col">Genres</th><th scope="col">Rating</th><th scope="col">When</th></tr></thead>
              <tbody></tbody>
            </table>
          </div>
        </section>
      </div>
    </div>
  </section>
  <section id="view-try" aria-labelledby="try-title" hidden>
    <h2 id="try-title">Try it as a new user</h2>
    <p>Rate a few movies: each rating is written as a rating event, and the list below is recomputed from your ratings without retraining (content-based after one rating, collaborative filtering by fold-in after <span id="try-min">5</span>).</p>
    <p class="muted">You are user <strong id="try-user"></strong>. <span id="try-transport"></span></p>
    <p id="try-error" class="error" role="alert" hidden></p>
    <div class="columns">
      <section aria-labelledby="rate-title">
        <h3 id="rate-title">Rate movies</h3>
        <ul id="rate-list" class="cards"></ul>
      </section>
      <section aria-labelledby="try-recs-title">
        <h3 id="try-recs-title">Your recommendations</h3>
        <p id="try-strategy" class="strategy" aria-live="polite"></p>
        <ol id="try-recommendations" class="cards"></ol>
      </section>
    </div>
  </section>
  <section id="view-movie" aria-labelledby="movie-title" hidden>
    <h2 id="movie-title">Movie</h2>
    <p id="movie-details"></p>
    <p id="movie-error" class="error" role="alert" hidden></p>
    <h3>Similar movies</h3>
    <p id="similar-note" class="muted"></p>
    <ol id="similar" class="cards"></ol>
  </section>
  <section id="view-service" aria-labelledby="service-title" hidden>
    <h2 id="service-title">Service</h2>
    <p id="service-note" class="muted">From this process's own metrics, refreshed every 2 s while this view is open.</p>
    <p id="service-summary"></p>
    <figure>
      <svg id="rate-chart" width="600" height="120" viewBox="0 0 600 120" role="img" aria-labelledby="rate-caption"></svg>
      <figcaption id="rate-caption" class="muted">Requests per second, all routes, last 2 minutes</figcaption>
    </figure>
    <div class="table-wrap">
      <table id="routes">
        <thead><tr><th scope="col">Route</th><th scope="col">Requests</th><th scope="col">Per second</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th><th scope="col">5xx</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
  </section>
  <section id="view-docs" aria-labelledby="docs-title" hidden>
    <h2 id="docs-title">API</h2>
    <p class="muted">Rendered from <a href="/openapi.json">/openapi.json</a>, the API's OpenAPI document.</p>
    <div id="docs"></div>
  </section>
  <section id="view-models" aria-labelledby="models-title" hidden>
    <h2 id="models-title">Models</h2>
    <p id="models-note" class="muted"></p>
    <div class="table-wrap">
      <table id="models">
        <thead><tr><th scope="col">Version</th><th scope="col">State</th><th scope="col">Algorithms</th><th scope="col">Metrics</th><th scope="col">Ratings</th><th scope="col">Trained</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <h3>Online: hit rate and click-through</h3>
    <p id="online-note" class="muted"></p>
    <figure id="online-figure" hidden>
      <div id="online-chart"></div>
      <figcaption id="online-chart-caption" class="muted"></figcaption>
    </figure>
    <div class="table-wrap">
      <table id="online">
        <thead><tr><th scope="col">Model version</th><th scope="col">Strategy</th><th scope="col">Lists</th><th scope="col">Hit rate</th><th scope="col">Click-through</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <h3>Recent training runs</h3>
    <p id="runs-note" class="muted"></p>
    <div class="table-wrap">
      <table id="runs">
        <thead><tr><th scope="col">Run</th><th scope="col">Version</th><th scope="col">State</th><th scope="col">Algorithms</th><th scope="col">Ratings</th><th scope="col">Training time</th><th scope="col">Registered</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
  </section>
</main>
</body>
</html>
`;
