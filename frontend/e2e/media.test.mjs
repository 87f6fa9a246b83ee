// Scenario: a teacher sets up a fresh server, uploads a lesson through the
// web app while the network drops in the middle of the upload (it resumes by
// itself), follows the clip in the library until it is ready, and watches it
// on the review page: hls.js plays it, its duration is right and time moves
// on; the timeline, keyboard shortcuts, sharing and renaming work. Every page
// is checked with axe-core. The test clip is made at test time with ffmpeg.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertAccessible, expectCount, expectPage, launchBrowser, makeLesson, newPage, resultsDir, screenshot, setUpSite, startServer, steps } from './harness.mjs';

const teacher = { name: 'Tess Teacher', email: 'tess@school.test', password: 'a long practice passphrase' };
const title = 'Forces lesson, period 2';
const groupName = 'Grade 7 science cohort';
const CHUNK = 64 * 1024;

let server;
let browser;
let work;
let clipPath;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-media-e2e-'));
  clipPath = join(work, 'forces-lesson.mp4');
  // 6 s of test picture and a tone, as the issue describes.
  makeLesson(clipPath, { size: '640x360', rate: 25, seconds: 6, tone: 440 });
  server = await startServer({ name: 'media' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

// The network drop makes the browser log failed requests; anything else is a problem.
const expectedNoise = /ERR_INTERNET_DISCONNECTED|net::ERR_FAILED|Failed to load resource/;

test('upload with a network drop, processing, and review playback', async (t) => {
  const step = steps(t);
  const { context, page, problems } = await newPage(browser);
  const size = (await stat(clipPath)).size;
  assert.ok(size > 3 * CHUNK, `test clip is ${size} bytes: too small to cut into several chunks`);

  await step('the teacher sets up the server and lands in an empty library', async () => {
    await setUpSite(page, server.baseURL, teacher);
    await page.getByRole('heading', { name: 'Upload your first lesson' }).waitFor();
    // A group to share with, made through the API with the page's session.
    const csrf = (await context.cookies()).find((c) => c.name === 'filmroom_csrf')?.value ?? '';
    const res = await page.request.post(server.baseURL + '/api/v1/groups', {
      data: { name: groupName, description: '' },
      headers: { 'X-CSRF-Token': csrf, Origin: server.baseURL },
    });
    assert.equal(res.status(), 201, await res.text());
  });

  await step('the upload page is accessible and takes a title before uploading', async () => {
    // Small chunks (test mode) so the upload is several requests long.
    await page.goto(`${server.baseURL}/upload?uploadChunk=${CHUNK}`);
    await expectPage(page, 'Upload lessons');
    await page.getByLabel('Who can watch').selectOption({ label: `Me and ${groupName}` });
    await assertAccessible(page, 'upload (empty)');
    await page.locator('input[type="file"]').setInputFiles(clipPath);
    const titleField = page.getByLabel('Title for forces-lesson.mp4');
    assert.equal(await titleField.inputValue(), 'forces-lesson');
    await titleField.fill(title);
    await assertAccessible(page, 'upload (file picked)');
    await screenshot(page, 'media-01-upload-picked');
  });

  await step('the network drops after the first chunk and the upload resumes by itself', async () => {
    let patches = 0;
    let dropped;
    const droppedOnce = new Promise((ok) => (dropped = ok));
    await page.route('**/api/v1/uploads/**', async (route) => {
      if (route.request().method() !== 'PATCH') return route.continue();
      patches++;
      if (patches === 2) {
        // The first chunk is stored; the second never arrives.
        await context.setOffline(true);
        await route.abort('internetdisconnected');
        dropped();
        return;
      }
      return route.continue();
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    // The drop happens, unless the upload fails first: then fail with its message.
    const failure = page.locator('main [role="alert"]');
    const first = await Promise.race([droppedOnce.then(() => 'dropped'), failure.waitFor().then(() => 'failed', () => 'none')]);
    if (first === 'failed') assert.fail(`upload failed before the drop: ${await failure.innerText()}`);
    await page.getByText('Connection lost').waitFor();
    await page.getByText('The upload continues by itself when the connection is back.').waitFor();
    const stuck = await page.getByRole('progressbar', { name: `Upload of ${title}` }).getAttribute('aria-valuenow');
    assert.ok(Number(stuck) > 0 && Number(stuck) < 100, `progress while offline is ${stuck}%`);
    await assertAccessible(page, 'upload (offline)');
    await screenshot(page, 'media-02-upload-offline');

    await context.setOffline(false);
    await page.getByText('Continued from 65.5 KB uploaded earlier.').waitFor();
    await page.getByText('Uploaded', { exact: true }).waitFor();
    assert.ok(patches > 2, `upload went on after the drop (${patches} PATCH requests)`);
    await page.unroute('**/api/v1/uploads/**');
    await assertAccessible(page, 'upload (done)');
    await screenshot(page, 'media-03-upload-done');
  });

  await step('the library shows the clip being prepared, then ready', async () => {
    await page.getByRole('link', { name: 'Follow it in your library' }).click();
    await expectPage(page, 'Library');
    const card = page.locator('.clip-card', { hasText: title });
    await card.waitFor();
    await card.locator('.badge', { hasText: 'Ready' }).or(card.getByRole('progressbar')).first().waitFor();
    if (await card.getByRole('progressbar').first().isVisible()) {
      await assertAccessible(page, 'library (processing)');
      await screenshot(page, 'media-04-library-processing');
    }
    await card.locator('.badge', { hasText: 'Ready' }).waitFor();
    const failed = await card.locator('.badge-failed').count();
    assert.equal(failed, 0, 'the clip failed');
    await card.locator('img').waitFor(); // the poster
    // It plays already; its other qualities (with the waveform and the
    // thumbnails the timeline shows below) follow.
    await card.getByText('Playable · more qualities coming').waitFor({ state: 'detached' });
    await assertAccessible(page, 'library (ready)');
    await screenshot(page, 'media-05-library-ready');

    // Search and sort are client-side.
    await page.getByLabel('Search by title').fill('period 2');
    await expectCount(page.locator('.clip-card'), 1);
    await page.getByLabel('Search by title').fill('no such lesson');
    await page.getByText('No clip title matches').waitFor();
    await page.getByLabel('Search by title').fill('');

    // The upload was shared with the group chosen before it started.
    await page.getByRole('tab', { name: 'By group' }).click();
    await page.getByLabel('Group', { exact: true }).selectOption({ label: groupName });
    await page.locator('.clip-card', { hasText: title }).waitFor();
    await assertAccessible(page, 'library (by group)');
    await page.getByRole('tab', { name: 'My clips' }).click();
    await page.locator('.clip-card', { hasText: title }).waitFor();
  });

  await step('the review page plays the clip with hls.js', async () => {
    await page.getByRole('link', { name: title }).click();
    await expectPage(page, title);
    const video = page.locator('video');
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return v && v.readyState >= 1 && Number.isFinite(v.duration) && v.duration > 0;
    });
    const engine = await page.evaluate(() => (document.querySelector('video')?.src ?? '').startsWith('blob:'));
    assert.ok(engine, 'hls.js plays through Media Source Extensions (blob: URL)');
    const duration = await video.evaluate((v) => v.duration);
    assert.ok(Math.abs(duration - 6) <= 0.5, `duration is ${duration} s`);
    await assertAccessible(page, 'review (paused)');

    await page.getByRole('group', { name: 'Player controls' }).getByRole('button', { name: 'Play' }).click();
    await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 0.5);
    const playing = await video.evaluate((v) => !v.paused);
    assert.ok(playing, 'the video plays');
    await page.getByRole('group', { name: 'Player controls' }).getByRole('button', { name: 'Pause' }).click();
    const t1 = await video.evaluate((v) => v.currentTime);
    assert.ok(t1 > 0.5, `currentTime advanced to ${t1}`);
    await screenshot(page, 'media-06-review-playing');
  });

  await step('the review page fits a phone screen', async () => {
    const wide = page.viewportSize();
    await page.setViewportSize({ width: 360, height: 740 });
    const { scroll, width } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
    }));
    assert.ok(scroll <= width, `review page is ${scroll}px wide in a ${width}px window`);
    await page.locator('.player').screenshot({ path: join(resultsDir, 'media-06b-review-phone.png') });
    await page.setViewportSize(wide);
  });

  await step('the timeline is a keyboard slider and draws the waveform', async () => {
    const slider = page.getByRole('slider', { name: 'Position in the clip' });
    await slider.focus();
    await page.keyboard.press('Home');
    await page.waitForFunction(() => document.querySelector('video')?.currentTime === 0);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => Math.abs((document.querySelector('video')?.currentTime ?? 0) - 2) < 0.05);
    assert.equal(await slider.getAttribute('aria-valuetext'), '0:02 of 0:06');
    // Waveform pixels were drawn on the canvas.
    const inked = await page.evaluate(() => {
      const c = document.querySelector('.timeline canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.ok(inked > 100, `waveform drew ${inked} pixels`);
    // Hovering shows a thumbnail from the sprite track.
    const box = await slider.boundingBox();
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2);
    await page.locator('.timeline .thumb').waitFor();
    await screenshot(page, 'media-07-review-hover');
    await page.locator('.player').screenshot({ path: join(resultsDir, 'media-07b-player-hover.png') });
    // Clicking seeks.
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.waitForFunction(() => Math.abs((document.querySelector('video')?.currentTime ?? 0) - 3) < 0.3);
  });

  await step('keyboard shortcuts work and are listed behind "?"', async () => {
    await page.locator('main h1').click(); // focus leaves the slider
    await page.keyboard.press('Home'); // not a player key: the page may scroll, the video stays
    const before = await page.evaluate(() => document.querySelector('video').currentTime);
    await page.keyboard.press('l');
    await page.waitForFunction((b) => document.querySelector('video').currentTime >= Math.min(b + 2.5, 5.9), before);
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.waitForFunction(() => document.querySelector('video').currentTime < 1.5);
    await page.keyboard.press('k');
    await page.waitForFunction(() => !document.querySelector('video').paused);
    await page.keyboard.press('k');
    await page.waitForFunction(() => document.querySelector('video').paused);
    await page.keyboard.press('Shift+?');
    const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await dialog.waitFor();
    await assertAccessible(page, 'review (shortcuts)');
    await screenshot(page, 'media-08-shortcuts');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  await step('the owner shares with a group and renames the clip', async () => {
    await page.getByText(`Shared with ${groupName}`).waitFor();
    await page.getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog', { name: `Share “${title}”` });
    await dialog.waitFor();
    const box = dialog.getByLabel(groupName);
    assert.equal(await box.isChecked(), true, 'the upload was shared with the chosen group');
    await dialog.getByLabel('Add someone by email').fill('nobody@school.test');
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await assertAccessible(page, 'share dialog');
    await screenshot(page, 'media-09-share');
    await dialog.getByRole('button', { name: 'Save sharing' }).click();
    // Accepted like any address: the answer never says that it has no account.
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText(`Shared with ${groupName} and named people (1)`).waitFor();
    await page.getByRole('button', { name: 'Share' }).click();
    await dialog.waitFor();
    await dialog.getByText('nobody@school.test', { exact: true }).waitFor();
    await dialog.getByRole('button', { name: 'Remove nobody@school.test' }).click();
    await box.uncheck();
    await dialog.getByRole('button', { name: 'Save sharing' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText('Only you (private)').waitFor();

    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('Title').fill('Forces, take two');
    await page.getByRole('button', { name: 'Save title' }).click();
    await expectPage(page, 'Forces, take two');
    await assertAccessible(page, 'review (renamed)');
  });

  await step('the owner deletes the clip after confirming', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this clip?' });
    await dialog.waitFor();
    // The dialog says the delete is permanent and what goes with the clip.
    await dialog.getByText(/will be deleted permanently, with everything attached to it: the original video/).waitFor();
    assert.match(await dialog.innerText(), /captions and transcript \(also from search\), all feedback and replies/);
    await dialog.getByRole('button', { name: 'Delete for good' }).click();
    await expectPage(page, 'Library');
    await page.getByRole('heading', { name: 'Upload your first lesson' }).waitFor();
  });

  const real = problems.filter((p) => !expectedNoise.test(p));
  assert.deepEqual(real, [], 'no page errors');
  await context.close();
});

test('an upload interrupted by a reload continues when the same file is picked again', async () => {
  const { page, context, problems } = await newPage(browser);
  await page.goto(server.baseURL + '/signin');
  await expectPage(page, 'Sign in');
  await page.getByLabel('Email address').fill(teacher.email);
  await page.getByLabel('Password').fill(teacher.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectPage(page, 'Library');

  await page.goto(`${server.baseURL}/upload?uploadChunk=${CHUNK}`);
  await expectPage(page, 'Upload lessons');
  await page.locator('input[type="file"]').setInputFiles(clipPath);
  await page.getByLabel('Title for forces-lesson.mp4').fill('Reloaded lesson');
  // Hold the second chunk until the tab reloads, so exactly one chunk is stored.
  let held;
  const secondChunk = new Promise((ok) => (held = ok));
  let patches = 0;
  await page.route('**/api/v1/uploads/**', (route) => {
    if (route.request().method() === 'PATCH' && ++patches === 2) {
      held();
      return; // never answered: the reload cancels it
    }
    return route.continue();
  });
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await secondChunk;
  // The route stays: unrouting would let the held chunk through.
  await page.reload();
  await expectPage(page, 'Upload lessons');

  await page.getByRole('heading', { name: 'Unfinished uploads' }).waitFor();
  await page.getByText('Reloaded lesson').waitFor();
  await assertAccessible(page, 'upload (unfinished after reload)');
  await screenshot(page, 'media-11-upload-unfinished');

  await page.locator('input[type="file"]').setInputFiles(clipPath);
  assert.equal(await page.getByLabel('Title for forces-lesson.mp4').inputValue(), 'Reloaded lesson', 'the earlier title is kept');
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.getByText('Continued from 65.5 KB uploaded earlier.').waitFor();
  await page.getByText('Uploaded', { exact: true }).waitFor();
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  // Once finished, it is no longer "unfinished".
  await page.getByRole('heading', { name: 'Unfinished uploads' }).waitFor({ state: 'detached' });

  // The assembled file is whole: it processes into a playable clip.
  await page.getByRole('link', { name: 'Follow it in your library' }).click();
  await expectPage(page, 'Library');
  const card = page.locator('.clip-card', { hasText: 'Reloaded lesson' });
  await card.locator('.badge', { hasText: 'Ready' }).or(card.locator('.badge-failed')).first().waitFor();
  assert.equal(await card.locator('.badge-failed').count(), 0, await card.innerText());

  // Deleting from the library asks first.
  await card.getByRole('button', { name: 'Delete Reloaded lesson' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete this clip?' });
  await dialog.waitFor();
  await assertAccessible(page, 'library (delete dialog)');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await card.getByRole('button', { name: 'Delete Reloaded lesson' }).click();
  await dialog.getByRole('button', { name: 'Delete for good' }).click();
  await page.getByText('“Reloaded lesson” was deleted.').waitFor();
  await expectCount(page.locator('.clip-card', { hasText: 'Reloaded lesson' }), 0);
  const real = problems.filter((p) => !expectedNoise.test(p));
  assert.deepEqual(real, [], 'no page errors');
  await context.close();
});

test('a phone-sized review page fits the screen', async () => {
  // Fresh clip owner and session are not needed: the 404 page of a clip is enough to check layout and focus.
  const { context, page } = await newPage(browser, { viewport: { width: 360, height: 740 } });
  await page.goto(server.baseURL + '/signin');
  await expectPage(page, 'Sign in');
  await page.getByLabel('Email address').fill(teacher.email);
  await page.getByLabel('Password').fill(teacher.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectPage(page, 'Library');
  await page.goto(server.baseURL + '/clips/00000000000000000000000000');
  await expectPage(page, 'Clip not found');
  await page.goto(server.baseURL + '/upload');
  await expectPage(page, 'Upload lessons');
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `upload page is ${scroll}px wide in a ${width}px window`);
  await assertAccessible(page, 'upload (phone)');
  await screenshot(page, 'media-10-upload-phone');
  await context.close();
});
