/**
 * The console in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against
 * the real server with a real model and PostgreSQL: the User view shows a user's history and
 * explained recommendations, an unknown user is told about the popularity path, the Models view
 * lists the registry with the online rates over time and the training runs, an API with auth on
 * asks for a key. Screenshots go to test-results/console/ (a CI artefact), and with
 * NETFLICKS_UPDATE_DOCS_IMAGES=1 the User, Try and Models ones to docs/images/ for the README.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { promoteModelVersion } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { describePostgres } from '../../../test/support/postgres.js';
import { skipOrFail } from '../../../test/support/skip.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { readVegaSvg } from '../../../test/support/vega-svg.js';
import { insertOnlineHours, registerTestModel, trainTestModel, type TestModel } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test-results/console');
/** With NETFLICKS_UPDATE_DOCS_IMAGES=1 (`npm run docs:images`) the README's console pictures are these screenshots. */
const DOCS_IMAGES = process.env.NETFLICKS_UPDATE_DOCS_IMAGES === '1' ? resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/images') : null;
const README_VIEWS = new Set(['user', 'try', 'models']);

/** A screenshot as a CI artefact, and for the README when asked. */
async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage });
  if (DOCS_IMAGES && README_VIEWS.has(name)) await copyFile(`${SCREENSHOTS}/${name}.png`, `${DOCS_IMAGES}/console-${name}.png`);
}
const SUITE = 'web console in Chromium';
const logger = createLogger({ component: 'console-browser-test', level: 'silent' });
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const API_KEY = 'console-test-key-0123456789abcdef';
/** A title longer than any screen is wide, without a place to break. */
const LONG_TITLE = `The${'Extraordinarily'.repeat(12)}LongTitle`;

/** The online chart's points as Vega labels them in the page: [series, bucket, rate]. */
async function chartPoints(page: Page, rate: string): Promise<[string, string, number][]> {
  const chart = readVegaSvg(await page.locator('#online-chart').innerHTML());
  return chart.points.filter((p) => p[rate] !== undefined).map((p) => [p.series, p['bucket start (UTC)'], Number(p[rate])]);
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core's serious and critical violations on the page as it is now. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate<AxeViolation[]>('axe.run(document).then((r) => r.violations)');
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

async function suite(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    skipOrFail({ suite: SUITE, needs: 'Chromium', enable: 'apt-get install -y chromium', reason: `${CHROMIUM} is missing` });
    describe.skip(SUITE, () => test.skip('needs chromium', () => {}));
    return;
  }
  await describePostgres(SUITE, (db) => {
    let model: TestModel;
    let api: RunningApi;
    let browser: Browser;
    let page: Page;
    let knownUser: number;
    let userRatings: number;

    beforeAll(async () => {
      // For the README, the quickstart's world (MovieLens-100K-sized) so the pictures look like what a user sees.
      const world = DOCS_IMAGES ? { users: 943, movies: 1682, ratings: 100_000 } : {};
      model = await trainTestModel({ seed: 7, ...world, titles: (d) => ({ [d.ratings.item[0]]: LONG_TITLE }) });
      const version = await registerTestModel(db.pool, model);
      await promoteModelVersion(db.pool, 'movies', version, { actor: 'test', force: true });
      const r = model.dataset.ratings;
      knownUser = r.user[0];
      const movies = model.dataset.movies;
      await db.pool.query('INSERT INTO movies (id, title, year) SELECT * FROM unnest($1::int[], $2::text[], $3::smallint[])', [
        movies.map((m) => m.id),
        movies.map((m) => m.title),
        movies.map((m) => m.year),
      ]);
      await db.pool.query('INSERT INTO users (id, first_seen) VALUES ($1, now())', [knownUser]);
      const rows = [...Array(r.length).keys()].filter((j) => r.user[j] === knownUser);
      userRatings = rows.length;
      // Three evaluated hours of the online evaluator's default series, two strategies.
      await insertOnlineHours(db.pool, [
        { hour: '2026-03-01T10:00Z', version: '1', strategy: 'cf', requests: 20, hits: 5, served: 200, engaged: 8 },
        { hour: '2026-03-01T11:00Z', version: '1', strategy: 'cf', requests: 20, hits: 8, served: 200, engaged: 12 },
        { hour: '2026-03-01T12:00Z', version: '1', strategy: 'cf', requests: 20, hits: 6, served: 200, engaged: 9 },
        { hour: '2026-03-01T11:00Z', version: '1', strategy: 'popularity', requests: 10, hits: 2, served: 100, engaged: 2 },
      ]);
      await db.pool.query('INSERT INTO ratings (user_id, movie_id, rating, rated_at) SELECT $1, * FROM unnest($2::int[], $3::real[], $4::timestamptz[])', [
        knownUser,
        rows.map((j) => r.item[j]),
        rows.map((j) => r.rating[j]),
        rows.map((j) => new Date(r.timestamp[j] * 1000)),
      ]);
      const config = loadApiConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MODEL_NAME: 'movies', DATABASE_URL: db.url });
      api = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'], timeout: 30_000 });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(10_000);
      await mkdir(SCREENSHOTS, { recursive: true });
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
      await api?.stop();
    });

    test('a user: history and explained recommendations render, with the strategy in words', async () => {
      await page.goto(`${api.url}/`);
      expect(page.url()).toBe(`${api.url}/console`);
      await page.getByText(/^Serving movies v1/).waitFor();
      await page.getByLabel('User id').fill(String(knownUser));
      await page.getByRole('button', { name: 'Show', exact: true }).click();
      await page.locator('#history tbody tr').first().waitFor();
      expect(await page.locator('#history tbody tr').count()).toBe(userRatings);
      expect(await page.locator('#history-note').textContent()).toBe(`${userRatings} ratings from the database.`);
      expect(await page.locator('#strategy-line').textContent()).toMatch(/^Strategy: cf\. Collaborative filtering on \d+ ratings/);
      const items = page.locator('#recommendations > li');
      expect(await items.count()).toBe(10);
      expect(await items.first().locator('.because li').first().textContent()).toMatch(/^because you rated .+ \d\.\d\/5 \(similarity -?\d\.\d\d\)$/);
      const first = (await (await fetch(`${api.url}/recommend/${knownUser}?k=1`)).json()) as { items: { title: string }[] };
      expect(await items.first().locator('.title').textContent()).toContain(first.items[0].title);
      await screenshot(page, 'user');
    });

    test('a movie: details and similar movies, opened from a recommendation', async () => {
      const link = page.locator('#recommendations > li .title a').first();
      const title = (await link.textContent()) ?? '';
      await link.click();
      await page.locator('#movie-title', { hasText: title }).waitFor();
      const movieId = Number(/#movie\/(\d+)$/.exec(page.url())?.[1]);
      const similar = (await (await fetch(`${api.url}/similar/${movieId}?k=10`)).json()) as { items: { title: string }[] };
      await page.locator('#similar > li').first().waitFor();
      const shown = await page.locator('#similar > li .title').allTextContents();
      expect(shown.map((t) => t.replace(/ \(\d{4}\)$/, ''))).toEqual(similar.items.map((i) => i.title));
      expect(await page.locator('#movie-details').textContent()).toMatch(new RegExp(` · \\d+ ratings? in training · popularity rank \\d+ of ${model.dataset.movies.length}$`));
      await screenshot(page, 'movie');
      await page.goBack();
      await page.locator('#recommendations > li').first().waitFor();
    });

    test('an unknown user is told about the popularity path; the genre filter narrows the list', async () => {
      await page.getByLabel('User id').fill('424242');
      await page.getByLabel('Genre').selectOption('Drama');
      await page.getByRole('button', { name: 'Show', exact: true }).click();
      await page.getByText(/unknown to the model/).waitFor();
      expect(await page.locator('#history-note').textContent()).toBe('No ratings yet.');
      const genres = await page.locator('#recommendations > li .meta').allTextContents();
      expect(genres.length).toBe(10);
      for (const g of genres) expect(g).toContain('Drama');
    });

    test('models: the registry versions with the live one, online rates over time as a chart, training runs', async () => {
      await page.getByRole('link', { name: 'Models' }).click();
      await page.locator('#models tbody tr').first().waitFor();
      expect(await page.locator('#models tbody tr').allTextContents()).toEqual([expect.stringMatching(/^v1 \(serving\)live/)]);
      expect(await page.locator('#online tbody tr').allTextContents()).toEqual(['1cf6031.7%4.8%', '1popularity1020.0%2.0%']);
      await page.locator('#online-chart svg').waitFor();
      expect(await chartPoints(page, 'lists with a hit')).toEqual([['1 cf', '03-01 10:00', 0.25], ['1 cf', '03-01 11:00', 0.4], ['1 cf', '03-01 12:00', 0.3], ['1 popularity', '03-01 11:00', 0.2]]);
      expect(await chartPoints(page, 'items engaged / served')).toEqual([['1 cf', '03-01 10:00', 0.04], ['1 cf', '03-01 11:00', 0.06], ['1 cf', '03-01 12:00', 0.045], ['1 popularity', '03-01 11:00', 0.02]]);
      expect(await page.locator('#online-chart-caption').textContent()).toMatch(/^Per evaluated bucket \(3 shown/);
      expect(await page.locator('#runs tbody tr').allTextContents()).toEqual([expect.stringMatching(/^testv1livehybrid\d+—\d{4}-\d\d-\d\d \d\d:\d\d$/)]);
      expect(await page.locator('#runs-note').textContent()).toMatch(/A run that failed before registering is not in the database/);
      await screenshot(page, 'models', true);
    });

    test('keyboard: the views are reached with Tab and Enter, and a user is shown from the keyboard', async () => {
      await page.goto(`${api.url}/console#service`);
      await page.locator('#routes tbody tr').first().waitFor();
      const focusOn = async (text: string): Promise<void> => {
        for (let i = 0; i < 30; i++) {
          await page.keyboard.press('Tab');
          if ((await page.evaluate<string>('document.activeElement.textContent')) === text) return;
        }
        throw new Error(`Tab never reached ${text}`);
      };
      await focusOn('Models');
      await page.keyboard.press('Enter');
      await page.locator('#online-chart svg').waitFor();
      expect(page.url()).toBe(`${api.url}/console#models`);
      await focusOn('User');
      await page.keyboard.press('Enter');
      for (let i = 0; i < 10 && (await page.evaluate<string>('document.activeElement.id')) !== 'user-id'; i++) await page.keyboard.press('Tab');
      expect(await page.evaluate<string>('document.activeElement.id')).toBe('user-id');
      await page.keyboard.press('Control+A');
      await page.keyboard.type(String(knownUser));
      await page.keyboard.press('Enter');
      // The view still holds the previous test's list (an unknown user, no history): wait for this user's history.
      await page.locator('#history tbody tr').first().waitFor();
      expect(await page.locator('#history tbody tr').count()).toBe(userRatings);
    });

    test('service: routes with request counts and percentiles from the process metrics, and a rate chart', async () => {
      await page.getByRole('link', { name: 'Service' }).click();
      const recommendRow = page.locator('#routes tbody tr', { hasText: '/recommend/:userId' });
      await recommendRow.waitFor();
      for (let i = 0; i < 20; i++) await fetch(`${api.url}/recommend/${knownUser}`);
      // Two polls after the burst: a rate is shown and the chart has a line.
      await page.locator('#rate-chart polyline').waitFor({ timeout: 10_000 });
      const cells = await recommendRow.locator('td').allTextContents();
      expect(Number(cells[1])).toBeGreaterThanOrEqual(21);
      expect(cells[3]).toMatch(/^\d+\.\d+ ms$/);
      const { rows } = await db.pool.query<{ model_file_size: string }>("SELECT model_file_size FROM model_versions WHERE model_name = 'movies' AND version = 1");
      const mib = (Number(rows[0].model_file_size) / 1048576).toFixed(1);
      expect(await page.locator('#service-summary').textContent()).toMatch(new RegExp(`· serving movies v1, a ${mib.replace('.', '\\.')} MiB model file, loaded \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC$`));
      // Its own requests are counted like the API's.
      expect(await page.locator('#routes tbody tr', { hasText: '/console/api/service' }).count()).toBe(1);
      await screenshot(page, 'service');
    });

    test('API docs: /docs renders the OpenAPI document, every operation with its parameters', async () => {
      await page.goto(`${api.url}/docs`);
      expect(page.url()).toBe(`${api.url}/console#docs`);
      const recommend = page.getByRole('region', { name: 'GET /recommend/{userId}' });
      await recommend.waitFor();
      expect(await recommend.locator('tbody tr td:first-child').allTextContents()).toEqual(['userId', 'k', 'genre', 'exclude_seen']);
      const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: Record<string, object> };
      const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
      expect(await page.locator('#docs section.op').count()).toBe(operations);
    });

    test('try it as a new user: rating five movies turns the popularity list into CF, without retraining', async () => {
      await page.getByRole('link', { name: 'Try it as a new user' }).click();
      await page.locator('#try-strategy', { hasText: /^Strategy: popularity\./ }).waitFor();
      const before = await page.locator('#try-recommendations > li .title').allTextContents();
      const selects = page.locator('#rate-list select');
      for (let i = 0; i < 5; i++) {
        await selects.nth(i).selectOption(i % 2 === 0 ? '5' : '4.5');
        // Each rating is visible before the next: content after the first, CF from the fifth.
        await page.locator('#try-strategy', { hasText: i === 4 ? /^Strategy: cf\. Collaborative filtering on 5 ratings/ : `Only ${i + 1} rating` }).waitFor({ timeout: 15_000 });
      }
      const after = await page.locator('#try-recommendations > li .title').allTextContents();
      expect(after).toHaveLength(10);
      expect(after).not.toEqual(before);
      expect(await page.locator('#try-recommendations .because li').count()).toBeGreaterThan(0);
      await screenshot(page, 'try');
    }, 60_000);

    test('accessibility: axe-core finds no serious or critical violations in any view', async () => {
      const ready: Record<string, string> = {
        [`#user/${knownUser}`]: '#recommendations > li',
        '#try': '#try-recommendations > li',
        '#movie/1': '#similar > li',
        '#models': '#online-chart svg',
        '#service': '#routes tbody tr',
        '#docs': '#docs section.op',
      };
      for (const [view, selector] of Object.entries(ready)) {
        await page.goto(`${api.url}/console${view}`);
        await page.locator(selector).first().waitFor();
        expect({ view, violations: await seriousViolations(page) }).toEqual({ view, violations: [] });
      }
    }, 180_000); // axe walks every node, Vega's labelled chart marks included: slow on a busy machine

    test('phone width: nothing overflows the viewport', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${api.url}/console#user/${knownUser}`);
      await page.locator('#recommendations > li').first().waitFor();
      // A string: the page's globals are not in this file's (Node) type library.
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      expect(await page.locator('#history td', { hasText: LONG_TITLE }).count()).toBe(1);
      await screenshot(page, 'user-phone');
      await page.goto(`${api.url}/console#models`);
      await page.locator('#online-chart svg').waitFor();
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
      // The chart scales down to the column instead of overflowing it.
      expect(await page.evaluate<number>("document.querySelector('#online-chart svg').getBoundingClientRect().width")).toBeLessThanOrEqual(390);
      await screenshot(page, 'models-phone', true);
    });

    test('auth on: the page asks for an API key, keeps it in the tab and sends it; a wrong key is refused', async () => {
      const config = loadApiConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MODEL_NAME: 'movies', DATABASE_URL: db.url, AUTH_MODE: 'api-key', API_KEYS: `console:${API_KEY}` });
      const keyed = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      tab.setDefaultTimeout(10_000);
      try {
        await tab.goto(`${keyed.url}/console#models`);
        await tab.getByRole('heading', { name: 'API key' }).waitFor();
        expect(await tab.locator('#key-error').textContent()).toMatch(/^The API answered: credentials are required/);
        expect(await tab.locator('#model-line').textContent()).toBe('Waiting for an API key');
        expect(await tab.evaluate<string>('document.activeElement.id')).toBe('api-key');
        expect(await seriousViolations(tab)).toEqual([]);
        await tab.screenshot({ path: `${SCREENSHOTS}/api-key.png` });

        await tab.keyboard.type('not-the-key-0123456789abcdef');
        await tab.keyboard.press('Enter');
        await tab.locator('#key-error', { hasText: /^The key was not accepted: / }).waitFor();

        const sent: (string | null)[] = [];
        tab.on('request', (req) => {
          if (req.url().includes('/console/api/')) sent.push(req.headers().authorization ?? null);
        });
        await tab.locator('#api-key').fill(API_KEY);
        await tab.keyboard.press('Enter');
        await tab.getByText(/^Serving movies v1/).waitFor();
        await tab.locator('#models tbody tr').first().waitFor();
        expect(await tab.locator('#key-panel').isHidden()).toBe(true);
        expect(await tab.evaluate<string | null>("sessionStorage.getItem('netflicks.apiKey')")).toBe(API_KEY);
        expect(sent.length).toBeGreaterThanOrEqual(2);
        expect(new Set(sent)).toEqual(new Set([`Bearer ${API_KEY}`]));
        // A reload keeps the key for the tab; "Forget" drops it and asks again.
        await tab.reload();
        await tab.locator('#online-chart svg').waitFor();
        await tab.getByRole('button', { name: 'Forget API key' }).click();
        expect(await tab.evaluate<string | null>("sessionStorage.getItem('netflicks.apiKey')")).toBeNull();
        expect(await tab.locator('#key-panel').isVisible()).toBe(true);
      } finally {
        await tab.close();
        await keyed.stop();
      }
    }, 60_000);
  });
}

await suite();
