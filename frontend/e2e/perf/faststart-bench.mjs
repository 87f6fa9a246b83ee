// Benchmark of fast start (`make bench-fast-start`). Not part of `npm run
// e2e`: it measures, it asserts nothing about speed.
//
// Inputs are made at bench time with ffmpeg (nothing is committed):
//   h264-<M>min.mp4  1080p30 H.264 High + AAC, the testsrc2 picture under
//                    temporal noise (a phone's sensor grain), a 2 s GOP;
//                    one minute is encoded and looped by stream copy up to
//                    M minutes, for every M in FASTSTART_MINUTES (10,40)
//   hevc-portrait.mov  1080x1920 HEVC (an iPhone held upright) + AAC, 2 min
//   vp9-opus.webm      720p VP9 + Opus (a browser recording), 2 min
//
// For each input, a fresh `bin/filmroom serve --workers 1` (SQLite, local
// folder) receives it through tus, and the bench times, from the moment
// the last PATCH is answered:
//   playable   the clip's status is "ready" in the API
//   playing    headless Chromium on the review page has hls.js playing
//              the first segment (video.currentTime > 0)
//   ladder     the full ladder has replaced the quick rendition (inputs
//              up to FASTSTART_LADDER_MAX minutes, default 10; a 40-minute
//              ladder takes about an hour on a 2-core machine)
// and the server's CPU seconds (its own and its ffmpeg children's) per
// minute of video. In the same run, the bare-tool baselines: ffmpeg stream
// copy of the input to HLS, the preview rendition's ffmpeg command alone
// for inputs that start from a preview (scripts/laddercmd -preview), and
// the single ffmpeg command that encodes filmroom's ladder
// (scripts/laddercmd), so every figure is also a ratio.
// Prints a Markdown table for docs/benchmarks.md.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchBrowser, newPage, resultsDir, sleep, startServer } from '../harness.mjs';

const minutes = (process.env.FASTSTART_MINUTES ?? '10,40').split(',').map(Number).filter((n) => n > 0);
const ladderMax = Number(process.env.FASTSTART_LADDER_MAX ?? 10);
const repo = resolve(resultsDir, '..', '..');
const cacheDir = join(resultsDir, 'bench-inputs');
const CHUNK = 32 << 20;
const TICKS = 100; // clock ticks per second in /proc/<pid>/stat (USER_HZ)

function ffmpeg(args) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

/** timed runs a command and resolves with its wall seconds. */
function timed(cmd, args) {
  return new Promise((ok, fail) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    child.on('exit', (code) => (code === 0 ? ok((performance.now() - started) / 1000) : fail(new Error(`${cmd}: ${err}`))));
  });
}

async function makeInputs() {
  await mkdir(cacheDir, { recursive: true });
  const inputs = [];
  const base = join(cacheDir, 'h264-1min.mp4');
  if (!existsSync(base)) {
    console.log('making a 1-minute 1080p noisy H.264 phone clip…');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30:duration=60,noise=alls=10:allf=t',
      '-f', 'lavfi', '-i', 'sine=frequency=300:duration=60',
      '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-g', '60', '-crf', '23', '-maxrate', '12M', '-bufsize', '24M',
      '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-shortest', base]);
  }
  for (const m of minutes) {
    const file = join(cacheDir, `h264-${m}min.mp4`);
    if (!existsSync(file)) {
      console.log(`looping it to ${m} minutes (stream copy)…`);
      ffmpeg(['-stream_loop', String(m - 1), '-i', base, '-c', 'copy', '-t', String(m * 60), file]);
    }
    inputs.push({ name: `H.264 1080p ${m} min`, file, seconds: m * 60 });
  }
  const hevc = join(cacheDir, 'hevc-portrait.mov');
  if (!existsSync(hevc)) {
    console.log('making a 2-minute HEVC portrait clip…');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1080x1920:rate=30:duration=120,noise=alls=10:allf=t',
      '-f', 'lavfi', '-i', 'sine=frequency=300:duration=120',
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-tag:v', 'hvc1',
      '-c:a', 'aac', '-shortest', hevc]);
  }
  inputs.push({ name: 'HEVC portrait .mov 2 min', file: hevc, seconds: 120 });
  const vp9 = join(cacheDir, 'vp9-opus.webm');
  if (!existsSync(vp9)) {
    console.log('making a 2-minute VP9/Opus browser recording…');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=120,noise=alls=10:allf=t',
      '-f', 'lavfi', '-i', 'sine=frequency=300:duration=120',
      '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '2M', '-c:a', 'libopus', '-shortest', vp9]);
  }
  inputs.push({ name: 'VP9/Opus .webm 2 min', file: vp9, seconds: 120 });
  return inputs;
}

/** cpuSeconds is a process's CPU time with that of its waited-for children. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14–17 of stat (utime, stime, cutime, cstime) are 11–14 after the name
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
}

/** session signs the first admin up and returns headers for API calls. */
async function session(baseURL) {
  const res = await fetch(baseURL + '/api/v1/setup', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: baseURL },
    body: JSON.stringify({ name: 'Bench Teacher', email: 'bench@school.test', password: 'a long benchmark passphrase' }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`setup: ${res.status} ${await res.text()}`);
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]);
  const csrf = cookies.find((c) => c.startsWith('filmroom_csrf='))?.split('=')[1] ?? '';
  return { cookies, headers: { Cookie: cookies.join('; '), 'X-CSRF-Token': csrf, Origin: baseURL } };
}

/** upload sends the file by tus in CHUNK-sized PATCHes and resolves when the last is answered. */
async function upload(baseURL, s, file, title) {
  const size = (await stat(file)).size;
  const enc = (v) => Buffer.from(v).toString('base64');
  const create = await fetch(baseURL + '/api/v1/uploads', {
    method: 'POST',
    headers: { ...s.headers, 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size),
      'Upload-Metadata': `filename ${enc(file.split('/').pop())},filetype ${enc('video/mp4')},title ${enc(title)}` },
  });
  if (create.status !== 201) throw new Error(`create upload: ${create.status} ${await create.text()}`);
  const location = new URL(create.headers.get('location'), baseURL).toString();
  const fh = await open(file);
  try {
    const buf = Buffer.alloc(CHUNK);
    for (let off = 0; off < size; ) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, off);
      const res = await fetch(location, {
        method: 'PATCH',
        headers: { ...s.headers, 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(off), 'Content-Type': 'application/offset+octet-stream' },
        body: buf.subarray(0, bytesRead),
      });
      if (res.status !== 204) throw new Error(`PATCH at ${off}: ${res.status} ${await res.text()}`);
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return performance.now();
}

async function clipByTitle(baseURL, s, title) {
  for (;;) {
    const res = await fetch(baseURL + '/api/v1/clips?scope=mine', { headers: s.headers });
    const c = (await res.json()).clips.find((x) => x.title === title);
    if (c) return c;
    await sleep(100);
  }
}

async function clip(baseURL, s, id) {
  const res = await fetch(`${baseURL}/api/v1/clips/${id}`, { headers: s.headers });
  return (await res.json()).clip;
}

async function measure(browser, input) {
  const server = await startServer({ name: 'bench-faststart', args: ['--workers', '1'] });
  try {
    const s = await session(server.baseURL);
    const { context, page } = await newPage(browser);
    await context.addCookies(s.cookies.map((c) => {
      const [name, value] = c.split('=');
      return { name, value, url: server.baseURL };
    }));
    const cpu0 = cpuSeconds(server.pid);
    const title = `Bench ${input.name}`;
    const t0 = await upload(server.baseURL, s, input.file, title);
    const { id } = await clipByTitle(server.baseURL, s, title);
    let c;
    for (;;) {
      c = await clip(server.baseURL, s, id);
      if (c.status === 'ready' || c.status === 'failed') break;
      await sleep(50);
    }
    if (c.status === 'failed') throw new Error(`${input.name} failed: ${JSON.stringify(c.failure)}`);
    const playable = (performance.now() - t0) / 1000;
    await page.goto(`${server.baseURL}/clips/${id}`);
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 1, null, { polling: 50 });
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.muted = true;
      void v.play();
    });
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 0, null, { polling: 20 });
    const playing = (performance.now() - t0) / 1000;
    await context.close();
    const out = { name: input.name, seconds: input.seconds, start: c.ladder?.start ?? 'ladder', playable, playing };
    if (input.seconds / 60 <= ladderMax) {
      while (c.ladder?.state === 'pending') {
        await sleep(500);
        c = await clip(server.baseURL, s, id);
      }
      out.ladder = (performance.now() - t0) / 1000;
      out.ladderState = c.ladder?.state ?? 'done';
      out.cpuPerMinute = (cpuSeconds(server.pid) - cpu0) / (input.seconds / 60);
    }
    return out;
  } finally {
    await server.stop();
  }
}

async function baselines(input) {
  const out = join(cacheDir, 'baseline');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const copy = await timed('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', input.file, '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy',
    '-f', 'hls', '-hls_time', '4', '-hls_playlist_type', 'vod', '-hls_segment_filename', join(out, 'seg_%05d.ts'), join(out, 'index.m3u8')]).catch(() => null);
  let ladder = null;
  let preview = null;
  if (input.start === 'preview') {
    const cmd = spawnSync('go', ['run', './scripts/laddercmd', '-preview', '-threads', '2', input.file, join(out, 'preview')], { cwd: repo, encoding: 'utf8' });
    if (cmd.status !== 0) throw new Error(`laddercmd -preview: ${cmd.stderr}`);
    preview = await timed('ffmpeg', JSON.parse(cmd.stdout));
  }
  if (input.seconds / 60 <= ladderMax) {
    const cmd = spawnSync('go', ['run', './scripts/laddercmd', '-threads', '2', input.file, join(out, 'ladder')], { cwd: repo, encoding: 'utf8' });
    if (cmd.status !== 0) throw new Error(`laddercmd: ${cmd.stderr}`);
    ladder = await timed('ffmpeg', JSON.parse(cmd.stdout));
  }
  await rm(out, { recursive: true, force: true });
  return { copy, preview, ladder };
}

const f1 = (n) => (n == null ? '–' : n.toFixed(1));
const inputs = await makeInputs();
const browser = await launchBrowser();
const rows = [];
try {
  for (const input of inputs) {
    console.log(`measuring ${input.name}…`);
    const m = await measure(browser, input);
    const b = await baselines({ ...input, start: m.start });
    rows.push({ ...m, ...Object.fromEntries(Object.entries(b).map(([k, v]) => [`bare_${k}`, v])) });
    console.log(JSON.stringify(rows.at(-1)));
  }
} finally {
  await browser.close();
}
console.log('\n| input | first rendition | playable (s) | playing in Chromium (s) | playing ÷ duration | bare stream copy to HLS (s) | bare preview encode (s) | full ladder (s) | bare ladder encode (s) | ladder ÷ bare | CPU s per video minute |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const ratio = r.ladder && r.bare_ladder ? (r.ladder / r.bare_ladder).toFixed(2) : '–';
  const share = (r.playing / r.seconds).toFixed(3);
  console.log(`| ${r.name} | ${r.start} | ${f1(r.playable)} | ${f1(r.playing)} | ${share} | ${f1(r.bare_copy)} | ${f1(r.bare_preview)} | ${f1(r.ladder)} | ${f1(r.bare_ladder)} | ${ratio} | ${f1(r.cpuPerMinute)} |`);
}
