// Scenario: the audit log. An admin sets the site up and invites a teacher
// and a peer. The teacher uploads a lesson and shares it with the peer by
// email in the Share dialog. The peer mistypes the password once, signs in
// and opens the clip. The teacher opens the clip's Activity panel and sees
// the peer's view and the share, and downloads the CSV. The admin opens the
// Audit log from the top navigation (the teacher has no such link), filters
// by action and person with the keyboard, and sees the peer's failed
// sign-in, sign-in and view with the client address. axe-core runs on both.
// The lesson is made at test time with ffmpeg.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertAccessible, expectPage, launchBrowser, makeLesson, newPage, screenshot, sleep, startServer, steps } from './harness.mjs';
import { apiFor } from './api.mjs';

const admin = { name: 'Ada Admin', email: 'ada@school.test', password: 'an admin passphrase here' };
const teacher = { name: 'Tess Teacher', email: 'tess@school.test', password: 'a long practice passphrase' };
const peer = { name: 'Pat Peer', email: 'pat@school.test', password: 'a third long passphrase' };
const title = 'Fractions lesson, period 2';

let server;
let browser;
let work;
let clipFile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-audit-e2e-'));
  clipFile = join(work, 'fractions.mp4');
  makeLesson(clipFile, { size: '160x90', rate: 15, seconds: 2, tone: 440 });
  server = await startServer({ name: 'audit' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const { json, tusUpload } = apiFor(() => server.baseURL);

test('who viewed and shared a clip, for its owner and the admin', async (t) => {
  const step = steps(t);
  const Z = await newPage(browser); // admin
  const A = await newPage(browser); // teacher, the clip's owner
  const B = await newPage(browser); // peer
  let clipId;

  await step('the admin sets up and invites a teacher and a peer; the teacher uploads a lesson', async () => {
    await Z.page.goto(server.baseURL + '/');
    await expectPage(Z.page, 'Welcome to filmroom');
    await json(Z.context, 'POST', '/api/v1/setup', admin);
    const groupId = (await json(Z.context, 'POST', '/api/v1/groups', { name: 'Staff', description: '' })).group.id;
    for (const [who, ctx] of [[teacher, A], [peer, B]]) {
      const inv = (await json(Z.context, 'POST', `/api/v1/groups/${groupId}/invitations`, { role: 'teacher' })).invitation;
      await ctx.page.goto(server.baseURL + '/signin');
      await json(ctx.context, 'POST', `/api/v1/invitations/${inv.token}/accept`, who);
    }
    // The peer signs out, to sign in by the page below.
    await json(B.context, 'POST', '/api/v1/auth/logout', undefined, [204]);
    await tusUpload(A.context, clipFile, { filename: 'fractions.mp4', filetype: 'video/mp4', title });
    while (!clipId) {
      const mine = await json(A.context, 'GET', '/api/v1/clips?scope=mine');
      clipId = mine.clips.find((c) => c.title === title)?.id;
      if (!clipId) await sleep(200);
    }
  });

  await step('the teacher shares the clip with the peer by email', async () => {
    await A.page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(A.page, title);
    await A.page.getByRole('button', { name: 'Share', exact: true }).click();
    const dialog = A.page.getByRole('dialog');
    await dialog.getByLabel('Add someone by email').fill(peer.email);
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await dialog.getByRole('button', { name: 'Save sharing' }).click();
    await A.page.getByText('Sharing was saved.').waitFor();
  });

  await step('the peer mistypes the password, signs in and opens the clip', async () => {
    await B.page.goto(`${server.baseURL}/signin`);
    await expectPage(B.page, 'Sign in');
    await B.page.getByLabel('Email address').fill(peer.email);
    await B.page.getByLabel('Password').fill('not my password at all');
    await B.page.getByRole('button', { name: 'Sign in' }).click();
    await B.page.locator('main [role="alert"]').waitFor();
    await B.page.getByLabel('Password').fill(peer.password);
    await B.page.getByRole('button', { name: 'Sign in' }).click();
    await expectPage(B.page, 'Library');
    await B.page.goto(`${server.baseURL}/clips/${clipId}`);
    await expectPage(B.page, title);
    // Only the owner has the Activity panel.
    assert.equal(await B.page.getByRole('heading', { name: 'Activity' }).count(), 0);
  });

  await step('the owner sees the peer’s view and the share in Activity, and downloads the CSV', async () => {
    await A.page.reload();
    await expectPage(A.page, title);
    const panel = A.page.locator('section', { has: A.page.getByRole('heading', { name: 'Activity' }) });
    const table = panel.getByRole('table', { name: 'Activity on this clip' });
    await table.getByRole('cell', { name: 'Pat Peer viewed the clip' }).waitFor();
    await table.getByRole('cell', { name: `Tess Teacher shared the clip with ${peer.email}` }).waitFor();
    // The owner learns who, not from where.
    assert.equal(await table.getByRole('columnheader', { name: 'Address' }).count(), 0);
    await assertAccessible(A.page, 'the review page with Activity');
    await screenshot(A.page, 'audit-activity');
    const [download] = await Promise.all([A.page.waitForEvent('download'), panel.getByRole('link', { name: 'Download CSV' }).click()]);
    assert.match(download.suggestedFilename(), /^filmroom-audit-clip-.*\.csv$/);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'id,at,actor_id,actor_name,action,clip_id,clip_owner_id,clip_title,subject,detail');
    assert.ok(lines.some((l) => l.includes(',Pat Peer,clip.view,')), csv);
    assert.ok(lines.some((l) => l.includes(',Tess Teacher,clip.share,') && l.includes(peer.email)), csv);
    // No audit log in the teacher's navigation.
    assert.equal(await A.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).count(), 0);
  });

  await step('the admin filters the site’s audit log by action and person', async () => {
    await Z.page.goto(server.baseURL + '/');
    await expectPage(Z.page, 'Library');
    await Z.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await expectPage(Z.page, 'Audit log');
    const table = Z.page.getByRole('table', { name: 'Audit log entries' });
    await table.getByRole('cell', { name: 'Pat Peer failed to sign in' }).waitFor();
    await table.getByRole('cell', { name: 'Pat Peer signed in' }).waitFor();
    await table.getByRole('cell', { name: `Tess Teacher shared the clip with ${peer.email}` }).waitFor();
    await assertAccessible(Z.page, 'the audit log page');
    // Choose the action and the person, then Tab to "Apply filters" and press Enter.
    await Z.page.getByLabel('Action').selectOption({ label: 'Viewed' });
    await Z.page.getByLabel('Person').selectOption({ label: `${peer.name} (${peer.email})` });
    await Z.page.getByLabel('Person').focus();
    await Z.page.keyboard.press('Tab');
    assert.equal(await Z.page.evaluate(() => document.activeElement?.textContent?.trim()), 'Apply filters');
    await Z.page.keyboard.press('Enter');
    await table.getByRole('cell', { name: 'Pat Peer viewed the clip' }).waitFor();
    await table.getByRole('cell', { name: 'Pat Peer signed in' }).waitFor({ state: 'detached' });
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    const cells = await rows.first().locator('td').allInnerTexts();
    assert.equal(cells[2], title);
    assert.equal(cells[3], '127.0.0.1');
    const peerId = (await json(Z.context, 'GET', '/api/v1/users')).users.find((u) => u.email === peer.email).id;
    const href = await Z.page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
    assert.equal(href, `/api/v1/admin/audit?action=clip.view&actor_id=${peerId}&format=csv`);
    await screenshot(Z.page, 'audit-admin');
  });

  for (const p of [Z, A, B]) assert.deepEqual(p.problems, []);
});
