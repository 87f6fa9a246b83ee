// End-to-end harness: runs the real filmroom binary on a free port with a
// throw-away data folder, and drives the real Chromium through playwright-core.
//
// Nothing here bounds a test by wall-clock time (the test machine is shared
// and slow at times): waits end when the awaited thing happens or when a
// failure is visible (the server exits, the page shows an error alert).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

/** frontendDir is the frontend/ folder; resultsDir receives screenshots and logs. */
export const frontendDir = resolve(here, '..');
export const resultsDir = join(frontendDir, 'test-results');

/** serverBinary is $FILMROOM_BIN or ../bin/filmroom next to frontend/. */
export function serverBinary() {
  return process.env.FILMROOM_BIN || resolve(frontendDir, '..', 'bin', 'filmroom');
}

/** chromiumPath is $CHROMIUM_PATH or the Debian chromium package's binary. */
export function chromiumPath() {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

async function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** sleep waits ms milliseconds (for polling loops, never as a bound). */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * startServer runs `filmroom serve` and resolves once GET /readyz answers 200.
 * It rejects if the process exits first, with the server's output in the error.
 * The returned object's stop() ends the server and removes its data folder.
 */
export async function startServer({ name = 'e2e', args: extra = [] } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(`server binary ${bin} not found: build it first (make build), or set FILMROOM_BIN`);
  }
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'filmroom-e2e-'));
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--data-dir', dataDir,
    '--database', `sqlite:${join(dataDir, 'filmroom.db')}`,
    '--base-url', baseURL,
    ...extra,
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  // A runner that exits early (a timeout, a crash) must not leave the server
  // holding CI's output open.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const lines = [];
  const keep = (chunk) => {
    for (const line of String(chunk).split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (lines.length > 2000) lines.shift(); // bounded log buffer
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((ok) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      ok(exited);
    }),
  );
  const logs = () => lines.join('\n');

  for (;;) {
    if (exited) {
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`filmroom exited (${JSON.stringify(exited)}) before it was ready:\n${logs()}`);
    }
    try {
      const res = await fetch(`${baseURL}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }

  return {
    baseURL,
    dataDir,
    logs,
    /** pid is the server's process ID (benchmarks read its CPU time). */
    pid: child.pid,
    /** stop ends the server gracefully, saves its log, and removes its data. */
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        // Cleanup, not a test bound: a server that ignores SIGTERM is killed.
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exit;
        clearTimeout(killer);
      }
      await mkdir(resultsDir, { recursive: true });
      await writeFile(join(resultsDir, `${name}-server.log`), logs() + '\n');
      await rm(dataDir, { recursive: true, force: true });
      return exited;
    },
  };
}

/** launchBrowser starts the system Chromium headless, without any download. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * newPage opens a page in a fresh context (its own cookies) and records page
 * errors and failed API calls in `problems`, which tests assert empty.
 */
export async function newPage(browser, { viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-US', reducedMotion: 'reduce' });
  const page = await context.newPage();
  // No timeouts by default: a wait ends when the element appears or a visible
  // failure does. E2E_TIMEOUT_MS sets one for debugging a stuck step.
  const timeout = Number(process.env.E2E_TIMEOUT_MS ?? 0);
  page.setDefaultTimeout(timeout);
  page.setDefaultNavigationTimeout(timeout);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 4\d\d/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return { context, page, problems };
}

/**
 * expectPage waits until the main heading reads `heading`. If an error alert
 * shows first, it fails with the alert's text, so a broken step fails at once
 * instead of waiting forever.
 */
export async function expectPage(page, heading) {
  const h1 = page.locator('main h1', { hasText: heading });
  const alert = page.locator('main [role="alert"]');
  await h1.or(alert).first().waitFor();
  if (!(await h1.isVisible())) {
    const texts = await alert.allInnerTexts();
    const current = await page.locator('main h1').allInnerTexts();
    throw new Error(`expected page "${heading}" at ${page.url()}, got heading ${JSON.stringify(current)} and alert ${JSON.stringify(texts)}`);
  }
}

const require = createRequire(import.meta.url);
let axeSource;

/**
 * axeViolations runs axe-core (WCAG 2.x A/AA and best practices) in the page
 * and returns the serious and critical violations, formatted for a message.
 */
export async function axeViolations(page) {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol rather than a <script> tag, so
  // the app's Content-Security-Policy (no inline scripts) stays in force.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(`${axeSource}\n;0`);
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    }),
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
}

/** screenshot saves a full-page PNG as test-results/<name>.png. */
export async function screenshot(page, name) {
  await mkdir(resultsDir, { recursive: true });
  const path = join(resultsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * expectCount waits until locator matches exactly n elements (pages render
 * asynchronously after a click or a fetch) and fails with what it saw.
 */
export async function expectCount(locator, n, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let seen = await locator.count();
  while (seen !== n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    seen = await locator.count();
  }
  if (seen !== n) throw new Error(`expected ${n} of ${locator}, saw ${seen}`);
}

/**
 * steps runs the subtests of a story in order and skips the rest once one
 * fails: a later step waits for what an earlier one made (waits have no
 * timeout), so running it after a failure would wait forever.
 */
export function steps(t) {
  let failed = null;
  return (name, fn) =>
    t.test(name, async (st) => {
      if (failed) {
        st.skip(`skipped: the step "${failed}" failed`);
        return;
      }
      try {
        await fn(st);
      } catch (err) {
        failed = name;
        throw err;
      }
    });
}


/** assertAccessible fails with axe-core's serious and critical findings. */
export async function assertAccessible(page, where) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe on ${where}:\n${violations.join('\n')}`);
}

/**
 * makeLesson writes a small H.264 test clip to path with ffmpeg: the
 * testsrc2 picture (through filter, e.g. noise, when given; a keyframe every
 * gop frames when given) and, unless tone is 0, a sine tone with AAC audio.
 */
export function makeLesson(path, { size = '320x180', rate = 25, seconds = 3, tone = 440, filter = '', gop = 0 } = {}) {
  const picture = `testsrc2=size=${size}:rate=${rate}:duration=${seconds}` + (filter ? `,${filter}` : '');
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', picture];
  if (tone) args.push('-f', 'lavfi', '-i', `sine=frequency=${tone}:duration=${seconds}`);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (gop) args.push('-g', String(gop));
  if (tone) args.push('-c:a', 'aac', '-shortest');
  args.push(path);
  const ff = spawnSync('ffmpeg', args, { encoding: 'utf8' });
  assert.equal(ff.status, 0, `ffmpeg failed: ${ff.stderr}`);
}

/**
 * setUpSite opens a new server's welcome page in page and creates its first
 * administrator account as person ({ name, email, password }), ending in
 * the library.
 */
export async function setUpSite(page, baseURL, person) {
  await page.goto(baseURL + '/');
  await expectPage(page, 'Welcome to filmroom');
  await page.getByLabel('Your name').fill(person.name);
  await page.getByLabel('Email address').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Create administrator account' }).click();
  await expectPage(page, 'Library');
}
