// Scenario: captions make a lesson usable for a deaf or hard-of-hearing
// colleague. A teacher uploads a short lesson whose sound is 2.5 s of
// silence and then espeak-ng saying "three" (pocketsphinx recognizes it
// reliably); the server captions it. On the review page the video has a
// caption track showing by default with the word in its cues; the
// transcript panel shows the word and a click on it seeks there; the
// library's search finds the word in the transcript and its result opens
// the player where the word is said; the owner corrects a cue in the caption
// editor and the player shows the correction. The annotation exports are
// checked as a standard would read them: the WebVTT export loads in
// Chromium as a <track>, and the JSON-LD export expands against the W3C Web
// Annotation context (a copy in fixtures/, the network being closed).
// axe-core runs with the transcript panel and the caption editor open.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import jsonld from 'jsonld';
import { assertAccessible, expectPage, launchBrowser, newPage, screenshot, sleep, startServer, steps } from './harness.mjs';
import { apiFor } from './api.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const teacher = { name: 'Tess Teacher', email: 'tess@school.test', password: 'a long practice passphrase' };
const colleague = { name: 'Cole Colleague', email: 'cole@school.test', password: 'another practice passphrase' };
const title = 'Counting lesson';
/** SPOKEN_MS is where "three" is said: after 2.5 s of silence. */
const SPOKEN_MS = 2500;

let server;
let browser;
let work;
let clipFile;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} failed: ${r.error ?? ''} ${r.stderr}`);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-captions-e2e-'));
  const wav = join(work, 'three.wav');
  clipFile = join(work, 'counting.mp4');
  run('espeak-ng', ['-v', 'en-us', '-s', '120', '-w', wav, 'three']);
  // Silence, then the word, then half a second of room; the test picture
  // lasts as long as the sound.
  run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10',
    '-f', 'lavfi', '-t', String(SPOKEN_MS / 1000), '-i', 'anullsrc=r=22050:cl=mono',
    '-i', wav,
    '-filter_complex', '[1:a][2:a]concat=n=2:v=0:a=1,apad=pad_dur=0.5[a]',
    '-map', '0:v', '-map', '[a]', '-shortest',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clipFile,
  ]);
  server = await startServer({ name: 'captions' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const { call, json, tusUpload } = apiFor(() => server.baseURL);

const waitVideo = (page) =>
  page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && v.readyState >= 2 && Number.isFinite(v.duration) && v.duration > 0;
  });

/** waitNear waits until the video's time is within 1 s of ms. */
const waitNear = (page, ms) =>
  page.waitForFunction((want) => Math.abs((document.querySelector('video')?.currentTime ?? -9) * 1000 - want) < 1000, ms);

/**
 * shownCues waits until the showing caption track has a cue matching re and
 * none matching without (the player swaps tracks asynchronously), and returns
 * the cue texts.
 */
async function shownCues(page, re, without = null) {
  const handle = await page.waitForFunction(([source, not]) => {
    const v = document.querySelector('video');
    const tracks = v ? [...v.textTracks].filter((tr) => tr.kind === 'captions' && tr.mode === 'showing') : [];
    if (tracks.length !== 1 || !tracks[0].cues || tracks[0].cues.length === 0) return null;
    // The text as shown: WebVTT escapes ("&amp;") decoded.
    const texts = [...tracks[0].cues].map((c) => c.getCueAsHTML().textContent);
    if (not && texts.some((x) => new RegExp(not, 'i').test(x))) return null;
    return texts.some((x) => new RegExp(source, 'i').test(x)) ? texts : null;
  }, [re.source, without?.source ?? null]);
  return handle.jsonValue();
}

test('captions, transcript, transcript search and standard exports', async (t) => {
  const step = steps(t);
  const A = await newPage(browser);
  const { page, context } = A;
  let clipId;
  let wordAt;

  await step('the teacher uploads a spoken lesson and the server captions it', async () => {
    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Welcome to filmroom');
    await json(context, 'POST', '/api/v1/setup', teacher);
    await tusUpload(context, clipFile, { filename: 'counting.mp4', filetype: 'video/mp4', title });
    for (;;) {
      const mine = await json(context, 'GET', '/api/v1/clips?scope=mine');
      const clip = mine.clips.find((c) => c.title === title);
      if (clip) {
        assert.notEqual(clip.status, 'failed', JSON.stringify(clip.failure));
        clipId = clip.id;
        // Playable and its full ladder made (fast start), so the player
        // does not switch sources during the story.
        if (clip.status === 'ready' && clip.ladder?.state !== 'pending') break;
      }
      await sleep(300);
    }
    // Captions run after the clip is ready: wait for the job to finish.
    for (;;) {
      const { captions } = await json(context, 'GET', `/api/v1/clips/${clipId}/captions`);
      assert.ok(!['none', 'failed'].includes(captions.status), `captions ${captions.status}: ${captions.reason}`);
      if (captions.status === 'ready') {
        assert.equal(captions.tracks.length, 1, JSON.stringify(captions.tracks));
        break;
      }
      await sleep(300);
    }
    const { transcript } = await json(context, 'GET', `/api/v1/clips/${clipId}/captions/en/transcript`);
    const word = transcript.words.find((w) => /three/i.test(w.text));
    assert.ok(word, `"three" in the transcript: ${JSON.stringify(transcript.words)}`);
    wordAt = word.start_ms;
    assert.ok(Math.abs(wordAt - SPOKEN_MS) < 1000, `"three" recognized at ${wordAt} ms, said at ${SPOKEN_MS} ms`);
  });

  await step('the review page shows the captions by default and the transcript seeks', async () => {
    await page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(page, title);
    await waitVideo(page);
    const texts = await shownCues(page, /three/);
    assert.ok(texts.some((x) => /three/i.test(x)), `cues: ${texts}`);

    const panel = page.getByRole('region', { name: 'Transcript' });
    const lines = panel.getByRole('list', { name: /Transcript lines/ });
    await lines.waitFor();
    const word = lines.locator('[data-w]', { hasText: /three/i }).first();
    await word.waitFor();
    await word.click();
    await waitNear(page, wordAt);
    await waitNear(page, SPOKEN_MS);
    // While it plays, the word is the one highlighted.
    await page.waitForFunction(() => document.querySelector('[data-w].now')?.textContent?.toLowerCase().includes('three'));

    // Search within the transcript: the match is marked and announced.
    const search = panel.getByLabel('Search the transcript');
    await search.fill('thr');
    await panel.getByText(/^Match 1 of 1, at 0:0\d$/).waitFor();
    await panel.locator('[data-w].hit-current', { hasText: /three/i }).waitFor();
    await search.press('Enter');
    await search.fill('seven');
    await panel.getByText('No match for “seven”.').waitFor();
    await search.fill('');

    // Scrolling the transcript by hand stops following; the button resumes.
    await lines.hover();
    await page.mouse.wheel(0, 120);
    const follow = panel.getByRole('button', { name: 'Follow playback' });
    await follow.click();
    await follow.waitFor({ state: 'detached' });

    // Enter on a line plays from the line's start.
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.pause();
      v.currentTime = 0;
    });
    await lines.getByRole('button').first().focus();
    await page.keyboard.press('Enter');
    await waitNear(page, wordAt);
    await screenshot(page, 'captions-01-transcript');
  });

  await step('the library finds the spoken word and opens the lesson where it is said', async () => {
    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Library');
    await page.getByLabel('Search by title or spoken words').fill('three');
    const spoken = page.getByRole('region', { name: 'Spoken in clips' });
    const hit = spoken.getByRole('link', { name: new RegExp(`^Spoken in “${title}” at 0:0\\d$`) });
    await hit.waitFor();
    await spoken.locator('mark', { hasText: /three/i }).first().waitFor();
    await assertAccessible(page, 'library (transcript search)');
    await screenshot(page, 'captions-02-library-search');
    await hit.click();
    await expectPage(page, title);
    assert.match(page.url(), /\/clips\/[^/?]+\?t=\d+$/);
    await waitVideo(page);
    await waitNear(page, SPOKEN_MS);
  });

  // A colleague watches the lesson while the owner works on its captions.
  const B = await newPage(browser);
  await step('a colleague the lesson is shared with opens it', async () => {
    const { group } = await json(context, 'POST', '/api/v1/groups', { name: 'Counting cohort', description: '' });
    const { invitation } = await json(context, 'POST', `/api/v1/groups/${group.id}/invitations`, { role: 'peer' });
    await B.page.goto(server.baseURL + '/signin'); // the context gets its cookies from the server
    await json(B.context, 'POST', `/api/v1/invitations/${invitation.token}/accept`, colleague);
    await json(context, 'PUT', `/api/v1/clips/${clipId}/audience`, { group_ids: [group.id] });
    await B.page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(B.page, title);
    await waitVideo(B.page);
    await shownCues(B.page, /three/);
    assert.equal(await B.page.getByRole('button', { name: 'Edit captions' }).count(), 0, 'only the owner edits captions');
    assert.equal(await B.page.getByRole('button', { name: 'Make automatic captions again' }).count(), 0);
  });

  await step('the owner corrects a cue and the player shows the correction', async () => {
    await page.getByRole('button', { name: 'Edit captions' }).click();
    const editor = page.getByRole('region', { name: 'Edit captions' });
    await editor.getByText('Everyone sees the automatic captions now.').waitFor();
    const cue = editor.getByRole('group', { name: 'Cue 1' });
    const text = cue.getByLabel('Text');
    await text.waitFor();
    assert.match(await text.inputValue(), /three/i);
    await assertAccessible(page, 'review (transcript and caption editor open)');

    // A bad time is refused before anything is sent.
    const end = cue.getByLabel('End');
    const endBefore = await end.inputValue();
    await end.fill('soon');
    await editor.getByRole('button', { name: 'Save captions' }).click();
    await cue.getByText('Write a time like 1:02.500.').waitFor();
    await end.fill(endBefore);

    await text.fill('Three & counting');
    await editor.getByRole('button', { name: 'Save captions' }).click();
    await editor.getByText('Captions saved. Everyone who watches sees your version.').waitFor();
    const texts = await shownCues(page, /counting/);
    assert.deepEqual(texts, ['Three & counting']);
    await editor.getByText('Everyone sees the captions edited by Tess Teacher now.').waitFor();
    // The transcript follows the edit.
    await page.getByRole('region', { name: 'Transcript' }).locator('[data-w]', { hasText: 'counting' }).waitFor();
    // The colleague's open page follows it too, without a reload.
    assert.deepEqual(await shownCues(B.page, /counting/), ['Three & counting']);
    await B.page.getByRole('region', { name: 'Transcript' }).locator('[data-w]', { hasText: 'counting' }).waitFor();
    await B.page.getByText('Captions corrected by Tess Teacher.').waitFor();

    // The server's checks name the cue; the editor shows it there.
    const start = cue.getByLabel('Start');
    await start.fill('0:09.000');
    await end.fill('0:10.000');
    await editor.getByRole('button', { name: 'Save captions' }).click();
    await cue.getByText(/^Cue 1 starts at 00:00:09\.000, after the clip ends/).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.labels?.[0]?.textContent), 'Start', 'focus on the named cue');
    await editor.getByRole('button', { name: 'Discard changes' }).click();
    assert.equal(await text.inputValue(), 'Three & counting');

    await assertAccessible(page, 'review (caption editor after saving)');
    await screenshot(page, 'captions-03-editor');

    // Back to the machine version: the player gets it again.
    await editor.getByRole('button', { name: 'Go back to the automatic captions' }).click();
    await editor.getByText('The automatic captions are back. Your edited version is kept.').waitFor();
    const machine = await shownCues(page, /three/, /counting/);
    assert.ok(!machine.some((x) => /counting/.test(x)), `cues after revert: ${machine}`);
    await shownCues(B.page, /three/, /counting/);

    // Made again by the speech engine: queued, then back with a new machine version.
    const panel = page.getByRole('region', { name: 'Transcript' });
    page.once('dialog', (d) => d.accept());
    await panel.getByRole('button', { name: 'Make automatic captions again' }).click();
    await panel.getByText('Automatic captions are queued again.').waitFor();
    await panel.getByRole('button', { name: 'Make automatic captions again' }).waitFor({ timeout: 60_000 });
    const { captions } = await json(context, 'GET', `/api/v1/clips/${clipId}/captions`);
    assert.equal(captions.status, 'ready', JSON.stringify(captions));
    assert.equal(captions.tracks[0].current, 'machine');
    await shownCues(page, /three/, /counting/);
    await B.page.close();
  });

  await step('the annotation exports read as WebVTT in Chromium and as W3C Web Annotations', async () => {
    const made = [
      { start_ms: 500, body: 'Long silence before the count.' },
      { start_ms: 1000, end_ms: 2000, body: 'Students wait.', kind: 'question' },
      { start_ms: 2500, body: 'The count starts.', region: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } },
    ];
    for (const a of made) await json(context, 'POST', `/api/v1/clips/${clipId}/annotations`, a);

    const vtt = await page.evaluate(async (url) => {
      const res = await fetch(url, { credentials: 'same-origin' });
      const text = await res.text();
      const src = URL.createObjectURL(new Blob([text], { type: 'text/vtt' }));
      const video = document.createElement('video');
      video.setAttribute('aria-hidden', 'true');
      video.style.display = 'none';
      const track = document.createElement('track');
      track.kind = 'metadata';
      track.src = src;
      video.append(track);
      document.body.append(video);
      track.track.mode = 'hidden'; // metadata tracks load once not disabled
      await new Promise((ok, fail) => {
        if (track.readyState === 2) return ok();
        track.addEventListener('load', () => ok(), { once: true });
        track.addEventListener('error', () => fail(new Error(`track error, readyState ${track.readyState}`)), { once: true });
      });
      const out = {
        status: res.status,
        readyState: track.readyState,
        cues: [...track.track.cues].map((c) => ({ id: c.id, start: c.startTime, end: c.endTime, text: c.text })),
      };
      video.remove();
      URL.revokeObjectURL(src);
      return out;
    }, `/api/v1/clips/${clipId}/annotations/export?format=vtt`);
    assert.equal(vtt.status, 200);
    assert.equal(vtt.readyState, 2, 'the track loaded');
    assert.equal(vtt.cues.length, made.length, JSON.stringify(vtt.cues));
    assert.deepEqual(vtt.cues.map((c) => c.start), [0.5, 1, 2.5]);
    assert.deepEqual(vtt.cues.map((c) => JSON.parse(c.text).body), made.map((a) => a.body));

    const res = await context.request.get(`${server.baseURL}/api/v1/clips/${clipId}/annotations/export?format=jsonld`);
    assert.equal(res.status(), 200);
    const doc = JSON.parse(await res.text());
    const annoContext = JSON.parse(await readFile(join(here, 'fixtures', 'anno.jsonld'), 'utf8'));
    const documentLoader = async (url) => {
      if (url === 'http://www.w3.org/ns/anno.jsonld' || url === 'https://www.w3.org/ns/anno.jsonld') {
        return { contextUrl: null, documentUrl: url, document: annoContext };
      }
      throw new Error(`no network in this test: ${url}`);
    };
    const expanded = await jsonld.expand(doc, { documentLoader, safe: true });

    const OA = 'http://www.w3.org/ns/oa#';
    const nodes = [];
    const walk = (v) => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (!v || typeof v !== 'object') return;
      if ((v['@type'] ?? []).includes(`${OA}Annotation`)) nodes.push(v);
      for (const [k, x] of Object.entries(v)) if (k !== '@type') walk(x);
    };
    walk(expanded);
    assert.equal(nodes.length, made.length, JSON.stringify(expanded, null, 1));
    const fragments = nodes.map((n) => {
      const selector = n[`${OA}hasTarget`][0][`${OA}hasSelector`][0];
      assert.deepEqual(selector['@type'], [`${OA}FragmentSelector`]);
      assert.deepEqual(selector['http://purl.org/dc/terms/conformsTo'], [{ '@id': 'http://www.w3.org/TR/media-frags/' }]);
      return selector['http://www.w3.org/1999/02/22-rdf-syntax-ns#value'][0]['@value'];
    });
    assert.deepEqual(fragments.sort(), ['t=0.5', 't=1,2', 't=2.5&xywh=percent:10,20,30,40']);
    // Bodies are typed and purposed with the vocabulary's terms.
    const purposes = new Set(nodes.flatMap((n) => n[`${OA}hasBody`].map((b) => b[`${OA}hasPurpose`]?.[0]?.['@id'])));
    assert.ok(purposes.has(`${OA}commenting`) && purposes.has(`${OA}classifying`), [...purposes].join(' '));
  });

  await step('a 40-minute transcript renders as lines, with few focusable elements', async () => {
    // 6,000 words of a long lesson, served in place of this clip's transcript.
    const words = [];
    let at = 0;
    for (let i = 0; i < 6000; i++) {
      at += i % 40 === 0 ? 4500 : i % 15 === 0 ? 1300 : 120;
      const text = i % 12 === 11 ? 'fractions.' : ['so', 'we', 'add', 'the', 'numerators', 'and', 'keep', 'denominators'][i % 8];
      words.push({ start_ms: at, end_ms: at + 280, text, confidence: 0.8 });
      at += 280;
    }
    await page.route(/\/api\/v1\/clips\/[^/]+\/captions\/en\/transcript$/, (route) =>
      route.fulfill({ json: { version: 'machine', transcript: { version: 1, words } } }),
    );
    const started = Date.now();
    await page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(page, title);
    const panel = page.getByRole('region', { name: 'Transcript' });
    const list = panel.getByRole('list', { name: /Transcript lines/ });
    await page.waitForFunction(() => document.querySelectorAll('[data-w]').length === 6000);
    const rendered = Date.now() - started;
    const counts = await page.evaluate(() => ({
      lines: document.querySelectorAll('[data-line]').length,
      focusable: document.querySelector('[data-line]').closest('ol').querySelectorAll('button, a, input, [tabindex]').length,
      tabStops: [...document.querySelector('[data-line]').closest('ol').querySelectorAll('button')].filter((b) => b.tabIndex >= 0).length,
    }));
    assert.ok(counts.lines > 300 && counts.lines < 1500, `${counts.lines} lines for 6,000 words`);
    assert.equal(counts.focusable, counts.lines, 'only the lines are focusable');
    assert.equal(counts.tabStops, 1, 'the list is one tab stop');
    const search = panel.getByLabel('Search the transcript');
    const typed = Date.now();
    await search.fill('fractions');
    await panel.getByText(/^Match 1 of 500, at /).waitFor();
    const searchedIn = Date.now() - typed;
    await search.press('Shift+Enter');
    await panel.getByText(/^Match 500 of 500, at /).waitFor();
    await list.locator('[data-w].hit-current').waitFor();
    t.diagnostic(`6,000 words: ${counts.lines} lines on the page ${rendered} ms after navigation, search in ${searchedIn} ms (measured, not bounded)`);
    await page.unroute(/\/api\/v1\/clips\/[^/]+\/captions\/en\/transcript$/);
  });

  assert.deepEqual(A.problems, [], A.problems.join('\n'));
  await context.close();
});

// Scenario: a longer lesson is captioned in parts, and its cues reach the
// review page while later parts are still being captioned. The server cuts
// the audio every ~4 s (--captions-chunk 4s) at the pauses between three
// sentences and runs one background worker, so the parts run in order. To
// hold the later parts deterministically, pocketsphinx is started through a
// wrapper that lets its first run through and makes later runs wait for a
// gate file; the test opens the gate once it has seen the first part's cues
// in the player and "1 of 3 parts" in the transcript panel, and then sees
// the rest arrive without a reload.
test('captions made in parts appear in the player while later parts are pending', async (t) => {
  const step = steps(t);
  const dir = await mkdtemp(join(tmpdir(), 'filmroom-captions-parts-'));
  const gate = join(dir, 'open');
  const runs = join(dir, 'runs');
  const real = spawnSync('sh', ['-c', 'command -v pocketsphinx_continuous'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(real, 'pocketsphinx_continuous is installed');
  const wrapper = join(dir, 'pocketsphinx_continuous');
  await writeFile(
    wrapper,
    `#!/bin/sh\necho run >> '${runs}'\nif [ "$(wc -l < '${runs}')" -gt 1 ]; then\n  while [ ! -e '${gate}' ]; do sleep 0.2; done\nfi\nexec '${real}' "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  const sentences = ['Good morning everyone.', 'Today we will count to ten together.', 'Please write the numbers in your book.'];
  const PAUSE_S = 2;
  const spans = [];
  const inputs = [];
  let filter = '';
  let at = 0;
  for (const [i, s] of sentences.entries()) {
    const wav = join(dir, `s${i}.wav`);
    run('espeak-ng', ['-v', 'en-us', '-s', '130', '-w', wav, s]);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', wav], { encoding: 'utf8' });
    const dur = Math.round(Number(probe.stdout.trim()) * 1000);
    at += PAUSE_S * 1000;
    spans.push([at, at + dur]);
    at += dur;
    inputs.push('-f', 'lavfi', '-t', String(PAUSE_S), '-i', 'anullsrc=r=22050:cl=mono', '-i', wav);
    filter += `[${2 * i + 1}:a][${2 * i + 2}:a]`;
  }
  const lesson = join(dir, 'parts.mp4');
  run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10',
    ...inputs,
    '-filter_complex', `${filter}concat=n=${2 * sentences.length}:v=0:a=1,apad=pad_dur=0.5[a]`,
    '-map', '0:v', '-map', '[a]', '-shortest',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', lesson,
  ]);
  const before = process.env.FILMROOM_POCKETSPHINX_BIN;
  process.env.FILMROOM_POCKETSPHINX_BIN = wrapper;
  const srv = await startServer({ name: 'captions-parts', args: ['--captions-chunk', '4s', '--workers', '1'] }).finally(() => {
    if (before === undefined) delete process.env.FILMROOM_POCKETSPHINX_BIN;
    else process.env.FILMROOM_POCKETSPHINX_BIN = before;
  });
  const api = apiFor(() => srv.baseURL);
  const A = await newPage(browser);
  const { page, context } = A;
  const partsTitle = 'Counting in parts';
  let clipId;
  let parts = 0;
  /** cueSpans are the [start, end] ms of the showing track's cues. */
  const cueSpans = () =>
    page.evaluate(() => {
      const v = document.querySelector('video');
      const tr = v ? [...v.textTracks].find((x) => x.kind === 'captions' && x.mode === 'showing') : null;
      return tr?.cues ? [...tr.cues].map((c) => [Math.round(c.startTime * 1000), Math.round(c.endTime * 1000)]) : [];
    });
  try {
    await step('the first part is captioned while the others wait, and the review page shows it', async () => {
      await page.goto(srv.baseURL + '/');
      await api.json(context, 'POST', '/api/v1/setup', teacher);
      await api.tusUpload(context, lesson, { filename: 'parts.mp4', filetype: 'video/mp4', title: partsTitle });
      let captions;
      for (;;) {
        const mine = await api.json(context, 'GET', '/api/v1/clips?scope=mine');
        const clip = mine.clips.find((c) => c.title === partsTitle);
        if (clip) {
          assert.notEqual(clip.status, 'failed', JSON.stringify(clip.failure));
          clipId = clip.id;
          ({ captions } = await api.json(context, 'GET', `/api/v1/clips/${clipId}/captions`));
          assert.ok(!['none', 'failed', 'ready'].includes(captions.status), `captions ${captions.status} ${captions.reason ?? ''} before the gate opened`);
          if (clip.status === 'ready' && captions.parts_done === 1) break;
        }
        await sleep(300);
      }
      assert.ok(captions.parts >= 2, JSON.stringify(captions));
      parts = captions.parts;
      assert.equal(captions.tracks.length, 1);
      await page.goto(`${srv.baseURL}/clips/${clipId}`);
      await expectPage(page, partsTitle);
      await waitVideo(page);
      const panel = page.getByRole('region', { name: 'Transcript' });
      await panel.getByText(`Captioning… 1 of ${parts} parts done.`).waitFor();
      await page.waitForFunction(() => {
        const v = document.querySelector('video');
        const tr = v ? [...v.textTracks].find((x) => x.kind === 'captions' && x.mode === 'showing') : null;
        return tr?.cues?.length > 0;
      });
      const cues = await cueSpans();
      for (const [start] of cues) assert.ok(start < spans[1][0], `cue at ${start} ms before part 2 was captioned (${JSON.stringify(cues)})`);
      await screenshot(page, 'captions-05-first-part');
    });

    await step('the later parts arrive in the player and the transcript without a reload', async () => {
      await writeFile(gate, '');
      const panel = page.getByRole('region', { name: 'Transcript' });
      await panel.getByText(`Captioning… 1 of ${parts} parts done.`).waitFor({ state: 'detached' });
      await page.waitForFunction(
        (last) => {
          const v = document.querySelector('video');
          const tr = v ? [...v.textTracks].find((x) => x.kind === 'captions' && x.mode === 'showing') : null;
          return tr?.cues && [...tr.cues].some((c) => c.endTime * 1000 > last);
        },
        spans[2][0],
      );
      for (;;) {
        const { captions: c } = await api.json(context, 'GET', `/api/v1/clips/${clipId}/captions`);
        if (c.status === 'ready') break;
        assert.equal(c.status, 'running', JSON.stringify(c));
        await sleep(300);
      }
      const cues = await cueSpans();
      const sorted = [...cues].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i][0] >= sorted[i - 1][1], `cues overlap: ${JSON.stringify(sorted)}`);
      for (const [start, end] of cues) {
        assert.ok(spans.some(([s, e]) => start >= s - 500 && end <= e + 1500), `cue [${start}, ${end}] lies where a sentence was spoken ${JSON.stringify(spans)}`);
      }
      await screenshot(page, 'captions-06-all-parts');
    });
    assert.deepEqual(A.problems, [], A.problems.join('\n'));
  } finally {
    await context.close();
    await srv.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
