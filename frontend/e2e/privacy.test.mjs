// Scenario: a teacher who joined through an invitation uploads a lesson,
// downloads all their data from the Account page (a ZIP with the original,
// the feedback and their goals), then deletes their account in the danger
// zone: a wrong password is refused next to the field, the right one signs
// them out, and their email and password no longer sign in. Pages and the
// dialog are checked with axe-core. The clip is made at test time with ffmpeg.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { apiFor } from './api.mjs';
import { assertAccessible, expectPage, launchBrowser, makeLesson, newPage, screenshot, setUpSite, startServer, steps } from './harness.mjs';

const admin = { name: 'Ada Admin', email: 'ada@school.test', password: 'correct horse battery staple' };
const teacher = { name: 'Tom Teacher', email: 'tom@school.test', password: 'tom likes long passphrases' };

let server;
let browser;
let work;
let clipPath;
const { json, tusUpload } = apiFor(() => server.baseURL);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-privacy-e2e-'));
  clipPath = join(work, 'privacy-lesson.mp4');
  makeLesson(clipPath, { size: '320x240', rate: 15, seconds: 3, tone: 440 });
  server = await startServer({ name: 'privacy' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** zipEntries lists the names in a ZIP file with unzip -l. */
function zipEntries(file) {
  const out = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
  assert.equal(out.status, 0, `unzip failed: ${out.stderr}`);
  return out.stdout.split('\n').filter(Boolean);
}

/** zipText reads one entry of a ZIP file. */
function zipText(file, name) {
  const out = spawnSync('unzip', ['-p', file, name], { encoding: 'utf8' });
  assert.equal(out.status, 0, `unzip -p ${name} failed: ${out.stderr}`);
  return out.stdout;
}

test('download all my data, then delete my account', async (t) => {
  const step = steps(t);
  const { context: adminContext, page: adminPage } = await newPage(browser);
  const { context, page } = await newPage(browser);
  let clip;

  await step('the admin sets up the server and invites the teacher', async () => {
    await setUpSite(adminPage, server.baseURL, admin);
    const { group } = await json(adminContext, 'POST', '/api/v1/groups', { name: 'Cohort P', description: '' });
    const { invitation } = await json(adminContext, 'POST', `/api/v1/groups/${group.id}/invitations`, { role: 'teacher' });
    await json(context, 'POST', `/api/v1/invitations/${invitation.token}/accept`, teacher);
  });

  await step('the teacher uploads a lesson and sets a goal', async () => {
    await tusUpload(context, clipPath, { filename: 'privacy-lesson.mp4', filetype: 'video/mp4', title: 'Data lesson' });
    for (let i = 0; i < 600 && !clip; i++) {
      const { clips } = await json(context, 'GET', '/api/v1/clips?scope=mine');
      clip = clips.find((c) => c.title === 'Data lesson' && c.status === 'ready');
      if (!clip) await new Promise((ok) => setTimeout(ok, 200));
    }
    assert.ok(clip, 'the clip became ready');
    await json(context, 'POST', `/api/v1/clips/${clip.id}/annotations`, { start_ms: 500, body: 'Tom notes his own pacing' });
    await json(context, 'POST', '/api/v1/goals', { title: 'Slow down the opening' });
  });

  await step('the Account page downloads all the teacher’s data as one ZIP', async () => {
    await page.goto(server.baseURL + '/account');
    await expectPage(page, 'Account');
    await page.getByRole('heading', { name: 'Your data' }).waitFor();
    await assertAccessible(page, 'account (privacy)');
    await screenshot(page, 'privacy-01-account');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download all my data' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^filmroom-export-\d{4}-\d{2}-\d{2}\.zip$/);
    const file = join(work, 'export.zip');
    await download.saveAs(file);
    const names = zipEntries(file);
    const dir = `clips/${clip.id}-data-lesson/`;
    for (const want of ['README.txt', 'account.json', 'annotations-authored.json', 'reflections.json', 'goals.json', 'audit.json',
      dir + 'clip.json', dir + 'original.mp4', dir + 'annotations.json', dir + 'annotations.jsonld']) {
      assert.ok(names.includes(want), `${want} is in the export:\n${names.join('\n')}`);
    }
    const original = spawnSync('unzip', ['-p', file, dir + 'original.mp4']).stdout;
    assert.ok(original.equals(await readFile(clipPath)), 'the original in the export is the uploaded file');
    assert.match(zipText(file, dir + 'annotations.json'), /Tom notes his own pacing/);
    assert.match(zipText(file, 'goals.json'), /Slow down the opening/);
    assert.match(zipText(file, 'account.json'), /tom@school\.test/);
    assert.ok(!names.some((n) => n.includes('Cohort')) && !zipText(file, 'account.json').includes(admin.email), 'nobody else’s data');
  });

  await step('the danger zone asks for the password and refuses a wrong one', async () => {
    await page.getByRole('heading', { name: 'Delete my account' }).waitFor();
    await page.getByRole('button', { name: 'Delete my account…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
    await dialog.waitFor();
    await assertAccessible(page, 'account (delete dialog)');
    await screenshot(page, 'privacy-02-delete-dialog');
    await dialog.getByRole('button', { name: 'Delete my account for good' }).click();
    await dialog.getByText('Please fix the highlighted fields.').waitFor();
    await dialog.getByLabel('Your password').fill('not my password at all');
    await dialog.getByRole('button', { name: 'Delete my account for good' }).click();
    await dialog.getByText(/this is not your password/i).waitFor();
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('name'));
    assert.equal(focused, 'password', 'focus moves to the password');
    // Nothing was deleted.
    const { clips } = await json(context, 'GET', '/api/v1/clips?scope=mine');
    assert.equal(clips.length, 1);
  });

  await step('the right password deletes the account and signs the teacher out', async () => {
    const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
    await dialog.getByLabel('Your password').fill(teacher.password);
    await dialog.getByRole('button', { name: 'Delete my account for good' }).click();
    await expectPage(page, 'Sign in');
    assert.equal(new URL(page.url()).pathname, '/signin');
    await page.getByLabel('Email address').fill(teacher.email);
    await page.getByLabel('Password').fill(teacher.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(/email or password is not right/i).first().waitFor();
    await assertAccessible(page, 'sign in after deletion');
    // The admin no longer sees the teacher, nor the clip.
    const { users } = await json(adminContext, 'GET', '/api/v1/users');
    assert.ok(!users.some((u) => u.email === teacher.email), 'the teacher is gone from the user list');
    const res = await adminContext.request.get(`${server.baseURL}/api/v1/clips/${clip.id}`);
    assert.equal(res.status(), 404);
  });
});
