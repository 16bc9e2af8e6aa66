#!/usr/bin/env node
/**
 * The README's pictures, made the way a user would see them: `netflicks quickstart` (the synthetic
 * MovieLens-100K-sized world, embedded PostgreSQL), the console it prints opened in real headless
 * Chromium (User, Try it as a new user after five ratings, Models), then `netflicks evaluate --plot`
 * on the same world. Writes docs/images/console-*.png and docs/images/evaluate.svg.
 *
 * Needs a build (`npm run build`) and Debian's chromium. Uses $NETFLICKS_CACHE / $NETFLICKS_PG_PORT
 * like the quickstart, so it works on that database: the Try view's five ratings stay in it as a
 * new user's (the next quickstart retrains on them). Usage: node scripts/readme-images.mjs [--port N]
 * (default: any free port)
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'services/cli/bin/netflicks.js');
const OUT = join(ROOT, 'docs/images');
const CHROMIUM = '/usr/bin/chromium';
const QUICKSTART_TIMEOUT_MS = 20 * 60_000;
const EVALUATE_TIMEOUT_MS = 20 * 60_000;
const portFlag = process.argv.indexOf('--port');
const port = portFlag > 0 ? process.argv[portFlag + 1] : '0';

/** Starts the quickstart and resolves with the console URL it prints (the process keeps serving). */
function startQuickstart() {
  const child = spawn(process.execPath, [CLI, 'quickstart', '--host', '127.0.0.1', '--port', port], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`quickstart printed no console address within ${QUICKSTART_TIMEOUT_MS / 60_000} min`)), QUICKSTART_TIMEOUT_MS);
    // The address is on the quickstart's progress stream (stderr); read both.
    let out = '';
    const scan = (sink) => (chunk) => {
      sink.write(chunk);
      out += chunk;
      const m = /^console: (http:\/\/\S+)\s/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', scan(process.stdout));
    child.stderr.on('data', scan(process.stderr));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`quickstart exited (${code}) before printing the console address`));
    });
  });
  return { child, url };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGINT');
  });
}

function run(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutMs });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`netflicks ${args.join(' ')} exited with ${code}`))));
  });
}

async function screenshots(consoleUrl) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'], timeout: 30_000 });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    page.setDefaultTimeout(30_000);
    await page.goto(consoleUrl);
    await page.locator('#recommendations > li .because li').first().waitFor();
    await page.screenshot({ path: join(OUT, 'console-user.png') });

    await page.getByRole('link', { name: 'Try it as a new user' }).click();
    await page.locator('#try-strategy', { hasText: /^Strategy: popularity\./ }).waitFor();
    const selects = page.locator('#rate-list select');
    for (let i = 0; i < 5; i++) {
      await selects.nth(i).selectOption(i % 2 === 0 ? '5' : '4');
      await page.locator('#try-strategy', { hasText: i === 4 ? /^Strategy: cf\./ : `Only ${i + 1} rating` }).waitFor();
    }
    await page.screenshot({ path: join(OUT, 'console-try.png') });

    await page.getByRole('link', { name: 'Models' }).click();
    await page.locator('#models tbody tr').first().waitFor();
    await page.locator('#runs tbody tr').first().waitFor();
    await page.screenshot({ path: join(OUT, 'console-models.png'), fullPage: true });
  } finally {
    await browser.close();
  }
}

await mkdir(OUT, { recursive: true });
const quickstart = startQuickstart();
try {
  await screenshots(await quickstart.url);
} finally {
  await stop(quickstart.child);
}
// The quickstart's world (its defaults), evaluated with every model the hybrid is made of.
await run(['evaluate', '--format', 'synthetic', '--algorithms', 'als,ials,content,popularity,hybrid', '--plot', join(OUT, 'evaluate.svg')], EVALUATE_TIMEOUT_MS);
console.log(`written: ${OUT}/console-user.png, console-try.png, console-models.png, evaluate.svg`);
