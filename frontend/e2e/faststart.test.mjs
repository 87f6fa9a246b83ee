// Scenario: fast start. A teacher uploads a 40-second 720p phone-style
// recording (H.264 with realistic noise, AAC). The library says it is
// playable while its other qualities are still being made; the review page
// plays it at once from the recording's own streams. The teacher seeks to
// 0:20 and pauses; when the full set of qualities arrives, the player
// switches to it by itself — the quality menu gains 360p, 540p and 720p —
// without a reload and without losing the position. axe-core runs on both
// pages. The recording is made at test time with ffmpeg.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { apiFor } from './api.mjs';
import { assertAccessible, expectPage, launchBrowser, makeLesson, newPage, screenshot, sleep, startServer, steps } from './harness.mjs';

const teacher = { name: 'Tess Teacher', email: 'tess@school.test', password: 'a long practice passphrase' };
const title = 'Group work, period 3';

let server;
let browser;
let work;
let clipFile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-faststart-e2e-'));
  clipFile = join(work, 'phone.mp4');
  makeLesson(clipFile, { size: '1280x720', rate: 30, seconds: 40, tone: 330, filter: 'noise=alls=12:allf=t', gop: 60 });
  server = await startServer({ name: 'faststart' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const { json, tusUpload } = apiFor(() => server.baseURL);

test('a phone recording plays at once and gains its other qualities in place', async (t) => {
  const step = steps(t);
  const { context, page } = await newPage(browser);
  let clipId;

  await step('the teacher uploads a recording and the library says it is playable', async () => {
    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Welcome to filmroom');
    await json(context, 'POST', '/api/v1/setup', teacher);
    await tusUpload(context, clipFile, { filename: 'phone.mp4', filetype: 'video/mp4', title });
    // The clip is made once the server has stored the upload.
    while (!clipId) {
      clipId = (await json(context, 'GET', '/api/v1/clips?scope=mine')).clips.find((c) => c.title === title)?.id;
      if (!clipId) await sleep(200);
    }
    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Library');
    const card = page.locator('.clip-card', { hasText: title });
    await card.getByText('Playable · more qualities coming').waitFor();
    await card.getByRole('progressbar', { name: `Other qualities of ${title}` }).waitFor();
    await assertAccessible(page, 'library (playable, ladder coming)');
    await screenshot(page, 'faststart-01-library-playable');
  });

  await step('the review page plays it from the recording itself', async () => {
    await page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(page, title);
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return v && v.readyState >= 1 && v.duration > 39;
    });
    const clip = (await json(context, 'GET', `/api/v1/clips/${clipId}`)).clip;
    assert.equal(clip.ladder?.start, 'copy', `the recording was packaged as it is: ${JSON.stringify(clip.ladder)}`);
    assert.deepEqual(clip.media.renditions.map((r) => r.name), ['source']);
    await page.getByRole('status').filter({ hasText: 'Playable · more qualities coming' }).waitFor();
    const slider = page.getByRole('slider', { name: 'Position in the clip' });
    await slider.focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowRight'); // 1 s a press
    await page.waitForFunction(() => Math.abs((document.querySelector('video')?.currentTime ?? 0) - 20) < 0.1);
    await assertAccessible(page, 'review (playable, ladder coming)');
    await screenshot(page, 'faststart-02-review-source');
  });

  await step('the full set of qualities arrives without a reload, at the same position', async () => {
    await page.evaluate(() => {
      window.__samePage = true;
    });
    const quality = page.getByLabel('Quality');
    // Waits end when the ladder is done; the story's steps bound nothing by time.
    for (;;) {
      const labels = await quality.locator('option').allInnerTexts();
      if (labels.some((l) => l.includes('720p')) && labels.some((l) => l.includes('360p'))) break;
      await sleep(500);
    }
    assert.equal(await page.evaluate(() => window.__samePage), true, 'the page was not reloaded');
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 1);
    const at = await page.evaluate(() => document.querySelector('video').currentTime);
    assert.ok(Math.abs(at - 20) < 0.5, `position after the switch is ${at} s`);
    await page.getByRole('status').filter({ hasText: 'Playable · more qualities coming' }).waitFor({ state: 'detached' });
    await page.getByRole('group', { name: 'Player controls' }).getByRole('button', { name: 'Play' }).click();
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 20.5);
    await page.getByRole('group', { name: 'Player controls' }).getByRole('button', { name: 'Pause' }).click();
    await assertAccessible(page, 'review (full ladder)');
    await screenshot(page, 'faststart-03-review-ladder');
  });
});
