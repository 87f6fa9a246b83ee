// Scenario: the privacy controls of issue 12 other than redaction. An admin
// requires consent before sharing; a teacher records at upload that
// students are visible (no consent yet), finds that an upload shared with
// a group is held back and that sharing the clip is refused with what to
// do, records consent on the Review page and shares it; downloads are off
// until the admin allows them for the site and the teacher for the clip;
// under an end-of-year retention policy the Library and the Review page
// warn of the deletion date and the teacher keeps the clip longer. Pages
// are checked with axe-core. The clip is made at test time with ffmpeg.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { apiFor } from './api.mjs';
import { axeViolations, expectPage, launchBrowser, newPage, screenshot, setUpSite, startServer, steps } from './harness.mjs';

const admin = { name: 'Ada Admin', email: 'ada@school.test', password: 'correct horse battery staple' };
const teacher = { name: 'Tia Teacher', email: 'tia@school.test', password: 'tia likes long passphrases' };
const groupName = 'Cohort Q';

let server;
let browser;
let work;
let clipPath;
const { json } = apiFor(() => server.baseURL);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-privacy-controls-e2e-'));
  clipPath = join(work, 'consent-lesson.mp4');
  const ff = spawnSync(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15:duration=3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', clipPath,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(ff.status, 0, `ffmpeg failed: ${ff.stderr}`);
  server = await startServer({ name: 'privacy-controls' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function accessible(page, where) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe on ${where}:\n${violations.join('\n')}`);
}

/** tomorrow is tomorrow's month-day (UTC), never 02-29. */
function tomorrow() {
  const d = new Date(Date.now() + 24 * 3600 * 1000);
  let md = d.toISOString().slice(5, 10);
  if (md === '02-29') md = '03-01';
  return md;
}

test('consent, sharing under the policy, downloads and retention', async (t) => {
  const step = steps(t);
  const { context: adminContext, page: adminPage } = await newPage(browser);
  const { context, page } = await newPage(browser);
  let clip;

  await step('the admin sets up the server, a group, and invites the teacher', async () => {
    await setUpSite(adminPage, server.baseURL, admin);
    const { group } = await json(adminContext, 'POST', '/api/v1/groups', { name: groupName, description: '' });
    const { invitation } = await json(adminContext, 'POST', `/api/v1/groups/${group.id}/invitations`, { role: 'teacher' });
    await json(context, 'POST', `/api/v1/invitations/${invitation.token}/accept`, teacher);
  });

  await step('the admin requires consent before sharing on the privacy policy page', async () => {
    await adminPage.getByRole('link', { name: 'Privacy policy' }).click();
    await expectPage(adminPage, 'Privacy policy');
    await accessible(adminPage, 'privacy policy');
    await adminPage.getByLabel('Require consent before sharing').check();
    await adminPage.getByRole('button', { name: 'Save policy' }).click();
    await adminPage.getByText('Policy saved.').waitFor();
    await screenshot(adminPage, 'privacy-controls-01-policy');
  });

  await step('at upload the teacher says students are visible; sharing with the group needs consent first', async () => {
    await page.goto(server.baseURL + '/upload');
    await expectPage(page, 'Upload lessons');
    await page.getByLabel('Who can watch').selectOption({ label: `Me and ${groupName}` });
    await page.getByLabel('Can students be seen or heard?').selectOption({ label: 'Yes, students are visible or audible' });
    await page.locator('input[type="file"]').setInputFiles(clipPath);
    await page.getByText(/your school needs consent on file first/).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Upload', exact: true }).isDisabled(), 'the upload waits for consent');
    await accessible(page, 'upload (consent needed)');
    await screenshot(page, 'privacy-controls-02-upload-blocked');
    // Private for now: the teacher will record consent later.
    await page.getByLabel('Who can watch').selectOption({ label: 'Only me (private)' });
    await page.getByLabel('Title for consent-lesson.mp4').fill('Consent lesson');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByText('Uploaded').first().waitFor({ timeout: 60_000 });
    for (let i = 0; i < 600 && !clip; i++) {
      const { clips } = await json(context, 'GET', '/api/v1/clips?scope=mine');
      clip = clips.find((c) => c.title === 'Consent lesson' && c.status === 'ready');
      if (!clip) await new Promise((ok) => setTimeout(ok, 200));
    }
    assert.ok(clip, 'the clip became ready');
    assert.equal(clip.privacy.students_visible, 'yes');
    assert.equal(clip.privacy.consent_on_file, false);
    assert.equal(clip.privacy.sharing_paused, true);
    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Library');
    await page.locator('.clip-card', { hasText: 'Consent lesson' }).getByText('Sharing paused: consent needed').waitFor();
    await accessible(page, 'library (sharing paused)');
  });

  await step('sharing the clip is refused with what to do', async () => {
    await page.goto(`${server.baseURL}/clips/${clip.id}`);
    await expectPage(page, 'Consent lesson');
    await page.getByText(/Sharing is paused/).waitFor();
    await page.getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(groupName).check();
    await dialog.getByRole('button', { name: 'Save sharing' }).click();
    await dialog.getByText(/record the consent in the clip's privacy settings/).waitFor();
    await screenshot(page, 'privacy-controls-03-share-refused');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  await step('the teacher records consent on the Review page, then shares', async () => {
    await page.getByLabel('Consent for these students is on file').check();
    await page.getByLabel('Note about consent (optional)').fill('Signed forms in the office');
    await page.getByRole('button', { name: 'Save privacy settings' }).click();
    await page.getByText('Privacy settings saved.').waitFor();
    await accessible(page, 'review (privacy panel)');
    assert.equal(await page.getByText(/Sharing is paused/).count(), 0);
    await page.getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(groupName).check();
    await dialog.getByRole('button', { name: 'Save sharing' }).click();
    await page.getByText('Sharing was saved.').waitFor();
  });

  await step('downloads are off until the site and the clip allow them', async () => {
    const off = page.getByRole('button', { name: 'Downloads are off for this clip' });
    await off.waitFor();
    assert.ok(await off.isDisabled());
    assert.equal(await page.getByRole('link', { name: 'Download MP4' }).count(), 0);
    const refused = await context.request.get(`${server.baseURL}/api/v1/clips/${clip.id}/download`);
    assert.equal(refused.status(), 403);
    await adminPage.reload();
    await expectPage(adminPage, 'Privacy policy');
    await adminPage.getByLabel('Allow downloads').check();
    await adminPage.getByRole('button', { name: 'Save policy' }).click();
    await adminPage.getByText('Policy saved.').waitFor();
    await page.reload();
    await expectPage(page, 'Consent lesson');
    await page.getByText('People who can watch the clip may then download it as MP4.').waitFor();
    await page.getByLabel('Allow downloads of this clip').check();
    await page.getByRole('button', { name: 'Save privacy settings' }).click();
    await page.getByText('Privacy settings saved.').waitFor();
    const link = page.getByRole('link', { name: 'Download MP4' });
    await link.waitFor();
    const res = await context.request.get(server.baseURL + (await link.getAttribute('href')));
    assert.equal(res.status(), 200);
    await screenshot(page, 'privacy-controls-04-download-on');
  });

  await step('under an end-of-year retention policy the teacher is warned and keeps the clip longer', async () => {
    await adminPage.getByLabel('Delete clips').selectOption({ label: 'At the end of the school year' });
    await adminPage.getByLabel('End of the school year (MM-DD)').fill(tomorrow());
    await adminPage.getByLabel('Warn owners this many days ahead').fill('14');
    await adminPage.getByLabel('Owners may keep clips longer').check();
    await adminPage.getByLabel('By at most this many days').fill('30');
    await adminPage.getByRole('button', { name: 'Save policy' }).click();
    await adminPage.getByText('Policy saved.').waitFor();
    await adminPage.getByRole('button', { name: 'Apply retention now' }).click();
    await adminPage.getByText(/Retention applied: 0 deleted, 1 owners warned/).waitFor();
    await accessible(adminPage, 'privacy policy (retention)');

    await page.goto(server.baseURL + '/');
    await expectPage(page, 'Library');
    const banner = page.getByTestId('retention-banner');
    await banner.getByText(/Consent lesson:.*will be deleted on \d{4}-\d{2}-\d{2} under your school’s retention policy/).waitFor();
    await accessible(page, 'library (retention warning)');
    await screenshot(page, 'privacy-controls-05-library-warning');

    await page.goto(`${server.baseURL}/clips/${clip.id}`);
    await expectPage(page, 'Consent lesson');
    await page.getByText(/This clip will be deleted on/).waitFor();
    await page.getByRole('button', { name: /Keep longer/ }).click();
    const until = page.getByLabel('Keep until');
    await until.waitFor();
    const limit = await until.inputValue();
    assert.match(limit, /^\d{4}-\d{2}-\d{2}$/);
    await accessible(page, 'review (keep longer)');
    await page.getByRole('button', { name: 'Keep until this date' }).click();
    await page.getByTestId('retention-banner').waitFor({ state: 'detached' });
    const { clip: kept } = await json(context, 'GET', `/api/v1/clips/${clip.id}`);
    assert.equal(kept.retention.kept_until.slice(0, 10), limit);
    assert.equal(kept.retention.warning, false);
    // The teacher's own log shows consent, the download switch and the extension.
    const { entries } = await json(context, 'GET', `/api/v1/clips/${clip.id}/audit`);
    const actions = entries.map((e) => e.action);
    for (const a of ['clip.consent', 'settings.change', 'clip.retention', 'clip.share']) assert.ok(actions.includes(a), `${a} in the clip's log: ${actions}`);
  });
});
