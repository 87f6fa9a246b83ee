// Benchmark of the review page (`npm run bench`; `make bench-web`). Not part
// of `npm run e2e`: it measures, it asserts nothing about speed.
//
// It starts `bin/filmroom serve` through the e2e harness, makes a 60 s clip
// with ffmpeg (lavfi test picture and tone), uploads it with a small tus
// client, waits until it is ready, seeds ANNOTATIONS annotations through the
// REST API (CONCURRENCY at a time), then RUNS times, each in a fresh browser
// context (cold cache) in headless Chromium:
//
//   first frame   navigation start → the video's first frame presented
//                 (requestVideoFrameCallback; 'loadeddata' as fallback and
//                 as a second figure)
//   interactive   navigation start → the composer's comment field is usable
//                 and the feedback list shows its rows, followed by 500 ms
//                 without a long task (TTI: the end of the last long task
//                 before the first such quiet window)
//   streaming     while the video plays, a second user (a coach) posts
//                 STREAM_RATE annotations per second for STREAM_SECONDS
//                 over REST; the page receives them through its live room.
//                 Frame rate (requestAnimationFrame callbacks per second),
//                 the longest gap between two frames, and every long task
//                 (PerformanceObserver 'longtask'): count and longest.
//   scripts       every JS file the page fetched (the hls.js worker
//                 included): bytes, and gzip of the same bytes
//
// It prints each run and the medians, as text and (with --json) as JSON.
// The streamed annotations are deleted after each run, so every run starts
// from the same ANNOTATIONS.
//
// Environment: ANNOTATIONS (2000), STREAM_RATE (20), STREAM_SECONDS (10),
// RUNS (3), CONCURRENCY (16), CLIP_SECONDS (60), plus the harness's
// FILMROOM_BIN and CHROMIUM_PATH.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'playwright-core';
import { launchBrowser, startServer } from '../harness.mjs';
import { gzipSize, pageScripts, sizes } from './bundle.mjs';

const env = (name, def) => Number(process.env[name] ?? def);
const ANNOTATIONS = env('ANNOTATIONS', 2000);
const STREAM_RATE = env('STREAM_RATE', 20);
const STREAM_SECONDS = env('STREAM_SECONDS', 10);
const RUNS = env('RUNS', 3);
const CONCURRENCY = env('CONCURRENCY', 16);
const CLIP_SECONDS = env('CLIP_SECONDS', 60);
const asJson = process.argv.includes('--json');

const teacher = { name: 'Tess Teacher', email: 'tess@school.test', password: 'a long practice passphrase' };
const coach = { name: 'Cora Coach', email: 'cora@school.test', password: 'another long passphrase' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const log = (...a) => console.error(...a);

/** Client is one signed-in person's API session (cookies, CSRF token). */
class Client {
  constructor(base, ctx) {
    this.base = base;
    this.ctx = ctx;
  }

  static async open(base) {
    const ctx = await request.newContext({ baseURL: base });
    await ctx.get('/api/v1/me'); // sets the CSRF cookie
    return new Client(base, ctx);
  }

  async csrf() {
    return (await this.ctx.storageState()).cookies.find((c) => c.name === 'filmroom_csrf')?.value ?? '';
  }

  async call(method, path, data, headers = {}) {
    return this.ctx.fetch(path, {
      method,
      data,
      headers: { 'X-CSRF-Token': await this.csrf(), Origin: this.base, ...headers },
    });
  }

  async json(method, path, data, want = [200, 201]) {
    const res = await this.call(method, path, data);
    const text = await res.text();
    assert.ok(want.includes(res.status()), `${method} ${path}: ${res.status()} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

/** tusUpload sends a file with the tus 1.0 protocol in 4 MiB PATCH requests. */
async function tusUpload(client, file, meta) {
  const body = await readFile(file);
  const enc = (s) => Buffer.from(s).toString('base64');
  const metadata = Object.entries(meta).map(([k, v]) => `${k} ${enc(v)}`).join(',');
  const create = await client.call('POST', '/api/v1/uploads', undefined, {
    'Tus-Resumable': '1.0.0',
    'Upload-Length': String(body.length),
    'Upload-Metadata': metadata,
  });
  assert.equal(create.status(), 201, await create.text());
  const location = new URL(create.headers().location, client.base).pathname;
  const chunk = 4 << 20;
  for (let from = 0; from < body.length; from += chunk) {
    const to = Math.min(body.length, from + chunk);
    const res = await client.call('PATCH', location, body.subarray(from, to), {
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': String(from),
      'Content-Type': 'application/offset+octet-stream',
    });
    assert.equal(res.status(), 204, await res.text());
  }
}

/** pool runs fn(i) for i in [0, n) with at most `width` calls in flight. */
async function pool(n, width, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

const BODIES = [
  'Good **wait time** after the question.',
  'Try naming a student before asking, so everyone thinks first.',
  'Clear instructions; consider checking understanding with a quick show of hands.',
  'Nice use of the whiteboard to *model* the second step.',
  'Several students off task at the back here.',
];

/** annotationInput makes the i-th seeded annotation: a mix of moments and ranges, coded and not. */
function annotationInput(i, criteria, durationMs, prefix) {
  const start = Math.floor(((i * 7919) % 1000) / 1000 * (durationMs - 3000));
  const c = criteria.length > 0 && i % 4 !== 3 ? criteria[i % criteria.length] : null;
  return {
    start_ms: start,
    ...(i % 3 === 0 ? { end_ms: start + 1500 + (i % 5) * 300 } : {}),
    body: `${BODIES[i % BODIES.length]} (${prefix} ${i + 1})`,
    ...(c ? { criterion: c.key, level: c.levels?.[i % Math.max(1, c.levels.length)]?.key } : {}),
    idempotency_key: `${prefix}-${i}-${Math.random().toString(36).slice(2)}`,
  };
}

// Installed before any page script runs (through the DevTools protocol, so
// the app's CSP does not apply): records long tasks, the first video frame
// and when the page is usable, and counts animation frames on request.
const INSTRUMENT = () => {
  const perf = {
    longtasks: [],
    firstFrame: null,
    loadeddata: null,
    canplay: null,
    ready: null,
    frames: null,
  };
  window.__perf = perf;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) perf.longtasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  let watched = null;
  const watch = () => {
    const v = document.querySelector('video');
    if (!v || v === watched) return;
    watched = v;
    v.addEventListener('loadeddata', () => (perf.loadeddata ??= performance.now()));
    v.addEventListener('canplay', () => (perf.canplay ??= performance.now()));
    if ('requestVideoFrameCallback' in v) v.requestVideoFrameCallback((now) => (perf.firstFrame ??= now));
  };
  // Usable: the composer's comment field is there and enabled, and the list
  // shows its rows (or says it is empty).
  const ready = () => {
    if (perf.ready !== null) return;
    const field = document.querySelector('.composer textarea');
    const list = document.querySelector('.list-card .item, .list-card .empty');
    if (field && !field.disabled && list) perf.ready = performance.now();
  };
  new MutationObserver(() => {
    watch();
    ready();
  }).observe(document, { childList: true, subtree: true });
  perf.startFrames = () => {
    const f = { count: 0, maxGap: 0, start: performance.now(), end: null, running: true };
    perf.frames = f;
    let last = f.start;
    const loop = (t) => {
      if (!f.running) return;
      f.count++;
      f.maxGap = Math.max(f.maxGap, t - last);
      last = t;
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  };
  perf.stopFrames = () => {
    const f = perf.frames;
    f.running = false;
    f.end = performance.now();
    return { count: f.count, ms: f.end - f.start, maxGap: f.maxGap };
  };
};

/** summariseProfile lists the functions with the most self time in a CPU profile. */
function summariseProfile(profile) {
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas ?? [];
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [`CPU profile: ${total.toFixed(0)} ms sampled`]
    .concat(
      [...self.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 25)
        .map(([k, v]) => `  ${v.toFixed(0).padStart(6)} ms  ${k}`),
    )
    .join('\n');
}

/** tti is the end of the last long task before the first 500 ms quiet window from `from` on. */
function tti(from, longtasks) {
  let t = from;
  for (const lt of [...longtasks].sort((a, b) => a.start - b.start)) {
    const end = lt.start + lt.duration;
    if (end <= t) continue;
    if (lt.start - t >= 500) break;
    t = Math.max(t, end);
  }
  return t;
}

async function main() {
  log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const work = await mkdtemp(join(tmpdir(), 'filmroom-bench-'));
  const clipFile = join(work, 'lesson.mp4');
  const ff = spawnSync(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${CLIP_SECONDS}`,
      '-f', 'lavfi', '-i', `sine=frequency=330:duration=${CLIP_SECONDS}`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-c:a', 'aac', '-shortest', clipFile,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(ff.status, 0, `ffmpeg failed: ${ff.stderr}`);

  const server = await startServer({ name: 'bench-review' });
  const browser = await launchBrowser();
  const closers = [];
  try {
    const base = server.baseURL;
    const A = await Client.open(base);
    closers.push(() => A.ctx.dispose());
    await A.json('POST', '/api/v1/setup', teacher);
    const groupId = (await A.json('POST', '/api/v1/groups', { name: 'Bench cohort', description: '' })).group.id;
    const inv = (await A.json('POST', `/api/v1/groups/${groupId}/invitations`, { role: 'coach' })).invitation;
    const B = await Client.open(base);
    closers.push(() => B.ctx.dispose());
    await B.json('POST', `/api/v1/invitations/${inv.token}/accept`, coach);

    log('uploading and processing the clip…');
    const t0 = Date.now();
    await tusUpload(A, clipFile, { filename: 'lesson.mp4', filetype: 'video/mp4', title: 'Bench lesson', group_id: groupId });
    // The server makes the clip once it has hashed the finished upload.
    let clipId;
    while (!clipId) {
      clipId = (await A.json('GET', '/api/v1/clips?scope=mine')).clips?.find((c) => c.title === 'Bench lesson')?.id;
      if (!clipId) await sleep(200);
    }
    await A.json('PUT', `/api/v1/clips/${clipId}/audience`, { group_ids: [groupId] });
    let clip;
    for (;;) {
      clip = (await A.json('GET', `/api/v1/clips/${clipId}`)).clip;
      assert.notEqual(clip.status, 'failed', JSON.stringify(clip.failure));
      if (clip.status === 'ready') break;
      await sleep(300);
    }
    log(`clip ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const rubrics = (await A.json('GET', '/api/v1/rubrics')).items;
    await A.json('PATCH', `/api/v1/clips/${clipId}`, { rubric_id: rubrics[0].id });
    const rubric = await A.json('GET', `/api/v1/rubrics/${rubrics[0].id}?clip_id=${clipId}`);
    const criteria = rubric.domains.flatMap((d) => d.criteria);

    log(`seeding ${ANNOTATIONS} annotations (${CONCURRENCY} at a time)…`);
    const t1 = Date.now();
    await pool(ANNOTATIONS, CONCURRENCY, async (i) => {
      const who = i % 2 === 0 ? B : A;
      await who.json('POST', `/api/v1/clips/${clipId}/annotations`, annotationInput(i, criteria, clip.duration_ms, 'seed'));
    });
    const seedSeconds = (Date.now() - t1) / 1000;
    log(`seeded in ${seedSeconds.toFixed(1)} s (${(ANNOTATIONS / seedSeconds).toFixed(0)}/s)`);

    const runs = [];
    for (let run = 1; run <= RUNS; run++) {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 860 },
        locale: 'en-US',
        storageState: await A.ctx.storageState(),
      });
      const page = await context.newPage();
      await page.addInitScript(INSTRUMENT);
      const scripts = new Map();
      const problems = [];
      page.on('pageerror', (e) => problems.push(e.message));
      context.on('response', async (res) => {
        const url = new URL(res.url());
        if (!url.pathname.endsWith('.js')) return;
        try {
          const body = await res.body();
          scripts.set(url.pathname, { bytes: body.length, gzip: gzipSize(body), header: Number(res.headers()['content-length'] ?? 0) });
        } catch {
          // a body the browser did not keep (cached): counted from dist below
          scripts.set(url.pathname, null);
        }
      });

      await page.goto(`${base}/clips/${clipId}`);
      await page.waitForFunction(() => window.__perf.ready !== null && (window.__perf.firstFrame !== null || window.__perf.loadeddata !== null), null, { polling: 50 });
      // Wait for a quiet 500 ms after the page became usable (TTI's window).
      for (;;) {
        const p = await page.evaluate(() => ({ ready: window.__perf.ready, longtasks: window.__perf.longtasks, now: performance.now() }));
        if (p.now - tti(p.ready, p.longtasks) >= 600) break;
        await sleep(200);
      }
      // The first frame may come after 'loadeddata' (or not be reported at all).
      await page.waitForFunction(() => window.__perf.firstFrame !== null, null, { timeout: 3000, polling: 50 }).catch(() => {});
      const load = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource').filter((r) => new URL(r.name).pathname.endsWith('.js'));
        return {
          perf: { ...window.__perf, startFrames: undefined, stopFrames: undefined },
          domContentLoaded: nav?.domContentLoadedEventEnd ?? null,
          resources: res.map((r) => ({ name: new URL(r.name).pathname, encoded: r.encodedBodySize, decoded: r.decodedBodySize, transfer: r.transferSize })),
          rows: document.querySelectorAll('.list-card .item').length,
          markers: document.querySelectorAll('.markers .marker').length,
          nodes: document.getElementsByTagName('*').length,
        };
      });
      const interactive = tti(load.perf.ready, load.perf.longtasks);
      // WATERFALL=1: what the page fetched, when (ms after navigation start).
      if (process.env.WATERFALL) {
        const w = await page.evaluate(() =>
          performance.getEntriesByType('resource').map((r) => `${r.startTime.toFixed(0).padStart(6)} → ${r.responseEnd.toFixed(0).padStart(6)}  ${new URL(r.name).pathname.slice(0, 90)}`),
        );
        log(w.join('\n'));
      }

      // Streaming: play the video, count frames and long tasks while the
      // coach posts STREAM_RATE annotations a second (open loop: on a fixed
      // schedule, whatever the answers' latency).
      await page.evaluate(() => {
        const v = document.querySelector('video');
        v.muted = true;
        return v.play();
      });
      // PROFILE=1: a CPU profile of the streaming phase, summarised by self time.
      const cdp = process.env.PROFILE ? await context.newCDPSession(page) : null;
      if (cdp) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
        await cdp.send('Profiler.start');
      }
      const streamFrom = await page.evaluate(() => {
        window.__perf.startFrames();
        return performance.now();
      });
      const total = STREAM_RATE * STREAM_SECONDS;
      const created = [];
      const sends = [];
      const started = Date.now();
      for (let i = 0; i < total; i++) {
        const due = started + (i * 1000) / STREAM_RATE;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        sends.push(
          B.json('POST', `/api/v1/clips/${clipId}/annotations`, annotationInput(ANNOTATIONS + i, criteria, clip.duration_ms, `run${run}`)).then((r) => created.push(r.id ?? r.annotation?.id)),
        );
      }
      await Promise.all(sends);
      // Let the last events arrive and render.
      await page.waitForFunction((n) => document.querySelectorAll('.markers .marker').length >= n, load.markers + total, { polling: 100, timeout: 30_000 }).catch(() => {});
      await sleep(300);
      const stream = await page.evaluate((from) => {
        const f = window.__perf.stopFrames();
        const lts = window.__perf.longtasks.filter((l) => l.start >= from);
        return {
          fps: (f.count * 1000) / f.ms,
          seconds: f.ms / 1000,
          maxFrameGap: f.maxGap,
          longtasks: lts.length,
          longestTask: lts.reduce((m, l) => Math.max(m, l.duration), 0),
          playing: !document.querySelector('video').paused,
          markers: document.querySelectorAll('.markers .marker').length,
          rows: document.querySelectorAll('.list-card .item').length,
        };
      }, streamFrom);

      if (cdp) {
        const { profile } = await cdp.send('Profiler.stop');
        log(summariseProfile(profile));
      }
      const fetched = [...scripts.entries()];
      const resourceWorker = load.resources.length;
      const bytes = fetched.reduce((s, [, v]) => s + (v?.bytes ?? 0), 0);
      const gz = fetched.reduce((s, [, v]) => s + (v?.gzip ?? 0), 0);
      const r = {
        run,
        firstFrameMs: load.perf.firstFrame,
        loadeddataMs: load.perf.loadeddata,
        readyMs: load.perf.ready,
        ttiMs: interactive,
        loadLongTasks: load.perf.longtasks.filter((l) => l.start < streamFrom).length,
        loadLongestTask: load.perf.longtasks.filter((l) => l.start < streamFrom).reduce((m, l) => Math.max(m, l.duration), 0),
        rowsAtLoad: load.rows,
        markersAtLoad: load.markers,
        domNodes: load.nodes,
        ...stream,
        streamed: created.length,
        scripts: fetched.map(([name, v]) => ({ name, ...v })),
        scriptFiles: fetched.length,
        scriptBytes: bytes,
        scriptGzip: gz,
        resourceEntries: resourceWorker,
        resourceEncoded: load.resources.reduce((s, x) => s + x.encoded, 0),
        problems,
      };
      runs.push(r);
      log(
        `run ${run}: first frame ${r.firstFrameMs?.toFixed(0)} ms (loadeddata ${r.loadeddataMs?.toFixed(0)}), usable ${r.readyMs.toFixed(0)} ms, ` +
          `TTI ${r.ttiMs.toFixed(0)} ms, load long tasks ${r.loadLongTasks} (max ${r.loadLongestTask.toFixed(0)} ms); ` +
          `streaming ${r.streamed} in ${r.seconds.toFixed(1)} s: ${r.fps.toFixed(1)} fps, max frame gap ${r.maxFrameGap.toFixed(0)} ms, ` +
          `long tasks ${r.longtasks} (max ${r.longestTask.toFixed(0)} ms), ${r.markers} markers, ${r.rows} rows, ${r.domNodes} DOM nodes at load; ` +
          `JS ${r.scriptFiles} files ${(r.scriptBytes / 1000).toFixed(1)} kB, gzip ${(r.scriptGzip / 1000).toFixed(1)} kB` +
          (problems.length ? `; page errors: ${problems.join(' | ')}` : ''),
      );
      await context.close();
      // Back to the seeded set for the next run.
      await pool(created.length, CONCURRENCY, async (i) => {
        if (created[i]) await B.call('DELETE', `/api/v1/clips/${clipId}/annotations/${created[i]}`);
      });
    }

    const dist = sizes(pageScripts('Review'));
    const distGzip = dist.reduce((s, r) => s + r.gzip, 0);
    const summary = {
      loadavg: loadavg(),
      annotations: ANNOTATIONS,
      streamRate: STREAM_RATE,
      streamSeconds: STREAM_SECONDS,
      runs: RUNS,
      seedPerSecond: ANNOTATIONS / seedSeconds,
      median: Object.fromEntries(
        ['firstFrameMs', 'loadeddataMs', 'readyMs', 'ttiMs', 'loadLongTasks', 'loadLongestTask', 'fps', 'maxFrameGap', 'longtasks', 'longestTask', 'scriptGzip', 'scriptBytes'].map((k) => [
          k,
          median(runs.map((r) => r[k])),
        ]),
      ),
      dist: { files: dist, gzip: distGzip },
      runsDetail: runs,
    };
    const m = summary.median;
    const f0 = (x) => (x === null ? 'n/a' : x.toFixed(0));
    console.log(`review page benchmark: ${ANNOTATIONS} annotations, ${STREAM_RATE}/s streamed for ${STREAM_SECONDS} s, ${RUNS} runs (medians)`);
    console.log(`  first frame      ${f0(m.firstFrameMs)} ms after navigation start (loadeddata ${f0(m.loadeddataMs)} ms)`);
    console.log(`  usable           ${f0(m.readyMs)} ms; interactive (TTI, 500 ms quiet) ${f0(m.ttiMs)} ms`);
    console.log(`  load long tasks  ${f0(m.loadLongTasks)}, longest ${f0(m.loadLongestTask)} ms`);
    console.log(`  streaming        ${m.fps.toFixed(1)} fps, longest frame gap ${f0(m.maxFrameGap)} ms, long tasks ${f0(m.longtasks)}, longest ${f0(m.longestTask)} ms`);
    console.log(`  scripts (page)   ${(m.scriptGzip / 1000).toFixed(1)} kB gzip (${(m.scriptBytes / 1000).toFixed(1)} kB as sent)`);
    console.log(`  scripts (dist)   ${(distGzip / 1000).toFixed(1)} kB gzip in ${dist.length} files: ${dist.map((d) => `${d.file} ${(d.gzip / 1000).toFixed(1)}`).join(', ')}`);
    console.log(`  load average     ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    if (asJson) console.log(JSON.stringify(summary, null, 2));
  } finally {
    for (const c of closers) await c().catch(() => {});
    await browser.close();
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
