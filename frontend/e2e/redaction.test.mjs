// Scenario: a teacher hides a student who has no consent. On the review
// page of a sharp checkerboard lesson she adds a blur box on the paused
// video, drags it into place, nudges it with the arrow keys, sets a second
// keyframe so it follows the student, and sees the preview move with the
// playing video; she saves, applies (the confirmation says the original is
// replaced), waits while the clip is re-rendered, and the redacted clip
// plays: the pixels under the box have lost the checkerboard's edges and
// the rest of the picture has not. axe-core runs with the panel open.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { axeViolations, expectPage, launchBrowser, newPage, screenshot, startServer, steps } from './harness.mjs';
import { apiFor } from './api.mjs';

const teacher = { name: 'Tess Teacher', email: 'tess@school.test', password: 'a long practice passphrase' };
const title = 'Checkerboard lesson';

let server;
let browser;
let work;
let clipFile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-redaction-e2e-'));
  clipFile = join(work, 'checker.mp4');
  const r = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', "nullsrc=s=640x360:r=15:d=6,geq=lum='if(mod(floor(X/16)+floor(Y/16),2),230,20)':cb=128:cr=128,format=yuv420p",
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=6',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '12', '-c:a', 'aac', '-shortest', clipFile,
  ], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffmpeg failed: ${r.error ?? ''} ${r.stderr}`);
  server = await startServer({ name: 'redaction' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { json, tusUpload } = apiFor(() => server.baseURL);

const waitVideo = (page) =>
  page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && v.readyState >= 2 && Number.isFinite(v.duration) && v.duration > 0;
  });

/** seek pauses the video at ms and waits for the frame. */
async function seek(page, ms) {
  await page.evaluate(
    (t) =>
      new Promise((ok) => {
        const v = document.querySelector('video');
        v.pause();
        v.addEventListener('seeked', () => ok(), { once: true });
        v.currentTime = t / 1000;
      }),
    ms,
  );
}

/**
 * edges draws the current frame and returns the checkerboard's edge energy
 * (mean difference between neighbouring pixels) in the inner half of the
 * region (fractions of the picture) and in the same-sized region at other.
 */
async function edges(page, region, other) {
  return page.evaluate(
    ([r, o]) => {
      const v = document.querySelector('video');
      const c = document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(v, 0, 0);
      const energy = (x, y) => {
        const x0 = Math.round((x + r.w / 4) * c.width);
        const y0 = Math.round((y + r.h / 4) * c.height);
        const w = Math.round((r.w / 2) * c.width);
        const h = Math.round((r.h / 2) * c.height);
        const d = g.getImageData(x0, y0, w + 1, h + 1).data;
        const lum = (i) => d[i * 4];
        let sum = 0;
        for (let yy = 0; yy < h; yy++) {
          for (let xx = 0; xx < w; xx++) {
            const i = yy * (w + 1) + xx;
            sum += Math.abs(lum(i) - lum(i + 1)) + Math.abs(lum(i) - lum(i + w + 1));
          }
        }
        return sum / (w * h);
      };
      return { inside: energy(r.x, r.y), outside: energy(o.x, o.y) };
    },
    [region, other],
  );
}

test('redaction: draw, follow, preview, apply, play the redacted clip', async (t) => {
  const step = steps(t);
  const A = await newPage(browser);
  const { page, context, problems } = A;
  let clipId;
  const box = () => page.getByTestId('redaction-box').first();
  const panel = () => page.getByRole('region', { name: 'Redaction' });

  await step('the teacher uploads a lesson and opens it', async () => {
    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Welcome to filmroom');
    await json(context, 'POST', '/api/v1/setup', teacher);
    await tusUpload(context, clipFile, { filename: 'checker.mp4', filetype: 'video/mp4', title });
    for (;;) {
      const mine = await json(context, 'GET', '/api/v1/clips?scope=mine');
      const clip = mine.clips.find((c) => c.title === title);
      if (clip) {
        assert.notEqual(clip.status, 'failed', JSON.stringify(clip.failure));
        clipId = clip.id;
        // Playable, and its full ladder made (fast start): the player then
        // does not switch sources while she draws.
        if ((clip.status === 'ready' || clip.status === 'captioning') && clip.ladder?.state !== 'pending') break;
      }
      await sleep(300);
    }
    await page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(page, title);
    await waitVideo(page);
    await panel().waitFor();
  });

  await step('she adds a blur box on the paused video and drags it over the student', async () => {
    await seek(page, 0);
    await panel().getByRole('button', { name: 'Add blur box' }).click();
    await box().waitFor();
    assert.equal(await box().getAttribute('data-active'), 'true');
    const from = await box().boundingBox();
    const picture = await page.locator('video').boundingBox();
    // Drag its centre to a tenth of the way across and down.
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(picture.x + picture.width * 0.2, picture.y + picture.height * 0.2, { steps: 8 });
    await page.mouse.up();
    const x = Number(await panel().getByLabel('Left (% of width)').inputValue());
    const y = Number(await panel().getByLabel('Top (% of height)').inputValue());
    assert.ok(x > 5 && x < 16 && y > 5 && y < 16, `after the drag the box is at ${x}%, ${y}%`);
  });

  await step('the arrow keys move the focused box, Alt resizes it, and the inputs follow', async () => {
    const before = Number(await panel().getByLabel('Left (% of width)').inputValue());
    await box().focus();
    await page.keyboard.press('Shift+ArrowRight');
    const after = Number(await panel().getByLabel('Left (% of width)').inputValue());
    assert.ok(Math.abs(after - before - 5) < 0.6, `Shift+ArrowRight moved ${before} → ${after}`);
    await page.keyboard.press('Alt+ArrowDown');
    assert.equal(Number(await panel().getByLabel('Height (%)').inputValue()), 20.5);
    // The video did not seek: the key went to the box, not the player.
    assert.ok((await page.evaluate(() => document.querySelector('video').currentTime)) < 0.2);
    await panel().getByLabel('Height (%)').fill('25');
    await panel().getByLabel('Height (%)').press('Tab');
    await panel().getByLabel('To (seconds)').first().fill('6');
    await panel().getByLabel('To (seconds)').first().press('Tab');
  });

  await step('a second keyframe makes the box follow, and the preview moves with the video', async () => {
    await seek(page, 4000);
    await panel().getByRole('button', { name: /^Add keyframe at 0:04/ }).click();
    await panel().getByLabel('Left (% of width)').fill('60');
    await panel().getByLabel('Left (% of width)').press('Tab');
    await panel().getByText('Keyframes: 2').waitFor();
    const leftAt = async (ms) => {
      await seek(page, ms);
      await page.waitForFunction(
        (want) => Math.abs(document.querySelector('video').currentTime * 1000 - want) < 100,
        ms,
      );
      return page.evaluate(() => parseFloat(document.querySelector('[data-testid="redaction-box"]').style.left));
    };
    const a = await leftAt(0);
    const mid = await leftAt(2000);
    const b = await leftAt(4000);
    assert.ok(a < mid && mid < b, `preview positions ${a}, ${mid}, ${b}`);
    assert.ok(Math.abs(b - 60) < 0.6, `at the keyframe the box is at ${b}%`);
    // Playing, the box slides on its own.
    await seek(page, 500);
    const start = await page.evaluate(() => parseFloat(document.querySelector('[data-testid="redaction-box"]').style.left));
    await page.evaluate(() => document.querySelector('video').play());
    await page.waitForFunction(
      (s) => parseFloat(document.querySelector('[data-testid="redaction-box"]')?.style.left ?? 'NaN') > s + 3,
      start,
    );
    await page.evaluate(() => document.querySelector('video').pause());
  });

  await step('the panel is accessible', async () => {
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], `axe:\n${violations.join('\n')}`);
  });

  await step('she mutes the second where a name is said', async () => {
    await seek(page, 1000);
    await panel().getByRole('button', { name: 'Mute a range' }).click();
    await panel().getByLabel('Muted range 1: To (seconds)').fill('2');
    await panel().getByLabel('Muted range 1: To (seconds)').press('Tab');
    assert.equal(await panel().getByLabel('Muted range 1: From (seconds)').inputValue(), '1');
  });

  await step('she saves, applies after the warning, and waits while the clip is re-rendered', async () => {
    await panel().getByRole('button', { name: 'Save plan' }).click();
    await panel().getByText('Plan saved').waitFor();
    await panel().getByRole('button', { name: 'Apply redaction…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply the redaction?' });
    await dialog.getByText('The original upload is replaced by the redacted video').waitFor();
    await dialog.getByRole('button', { name: 'Replace the original and apply' }).click();
    // Re-rendering takes a while on a loaded machine: wait on the job, not the clock.
    for (;;) {
      const { redaction } = await json(context, 'GET', `/api/v1/clips/${clipId}/redaction`);
      assert.notEqual(redaction.status, 'failed', redaction.failure);
      if (redaction.status === '' && redaction.applied.length === 1) break;
      await sleep(500);
    }
    await page.getByText('Redaction applied. The clip now plays redacted everywhere.').waitFor();
    // The page mounted the player and the panel again, once each.
    await page.getByRole('region', { name: 'Redaction' }).getByText('Applied so far: 1').waitFor();
    assert.equal(await page.getByRole('region', { name: 'Redaction' }).count(), 1);
  });

  await step('the redacted clip plays, blurred under the box and sharp elsewhere', async () => {
    await waitVideo(page);
    await page.evaluate(() => document.querySelector('video').play());
    await page.waitForFunction(() => document.querySelector('video').currentTime > 1);
    await page.evaluate(() => document.querySelector('video').pause());
    const { redaction } = await json(context, 'GET', `/api/v1/clips/${clipId}/redaction`);
    const applied = redaction.applied[0].plan.boxes[0];
    assert.equal(applied.keyframes.length, 2);
    assert.deepEqual(redaction.applied[0].plan.mutes, [{ start_ms: 1000, end_ms: 2000 }]);
    // Where the box was at 0 s (the first keyframe), against the lower right.
    const k = applied.keyframes[0];
    await seek(page, 0);
    const e = await edges(page, { x: k.x, y: k.y, w: applied.w, h: applied.h }, { x: 0.75, y: 0.7 });
    assert.ok(e.outside > 20, `the checkerboard outside the box has edges: ${JSON.stringify(e)}`);
    assert.ok(e.inside < e.outside * 0.2, `under the box the picture is blurred: ${JSON.stringify(e)}`);
    await screenshot(page, 'redaction-applied');
    assert.deepEqual(problems, []);
  });
});
