// Scenario: a fresh server is set up by its first administrator, who signs
// out and in again, creates a group and an invite link; a teacher opens the
// link on a phone-sized screen in a second browser, signs up, and both see
// the group with its two members. Every page is checked with axe-core.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertAccessible, expectCount, expectPage, launchBrowser, newPage, screenshot, startServer, steps } from './harness.mjs';

const admin = { name: 'Ada Admin', email: 'ada@school.test', password: 'correct horse battery staple' };
const teacher = { name: 'Tom Teacher', email: 'tom@school.test', password: 'tom likes long passphrases' };
const group = { name: 'Grade 7 science cohort', description: 'Practice lessons on forces and motion.' };

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'onboarding' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** accessible asserts that axe finds no serious or critical violation. */
/** fitsWidth asserts nothing makes the page scroll sideways. */
async function fitsWidth(page, where) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `${where}: page is ${scroll}px wide in a ${width}px window`);
}

test('first run, groups and an invitation, end to end', async (t) => {
  const step = steps(t);
  const a = await newPage(browser);
  const pa = a.page;

  await step('a fresh server asks for the administrator account', async () => {
    await pa.goto(server.baseURL + '/');
    await expectPage(pa, 'Welcome to filmroom');
    assert.equal(new URL(pa.url()).pathname, '/setup');
    await assertAccessible(pa, 'setup');
    await screenshot(pa, '01-setup');
  });

  await step('empty fields are explained next to the fields', async () => {
    await pa.getByRole('button', { name: 'Create administrator account' }).click();
    await pa.getByText('Please fix the highlighted fields.').waitFor();
    assert.equal(await pa.locator('[aria-invalid="true"]').count(), 3);
    const focused = await pa.evaluate(() => document.activeElement?.getAttribute('name'));
    assert.equal(focused, 'name', 'focus moves to the first invalid field');
    await assertAccessible(pa, 'setup with errors');
    await screenshot(pa, '02-setup-errors');
  });

  await step('setup creates the admin and opens an empty library', async () => {
    await pa.getByLabel('Your name').fill(admin.name);
    await pa.getByLabel('Email address').fill(admin.email);
    await pa.getByLabel('Password').fill(admin.password);
    await pa.getByRole('button', { name: 'Create administrator account' }).click();
    await expectPage(pa, 'Library');
    await pa.getByRole('heading', { name: 'Upload your first lesson' }).waitFor();
    await pa.getByText(`Signed in as ${admin.name}`).waitFor();
    await assertAccessible(pa, 'library (mine)');
    await screenshot(pa, '03-library-empty');
  });

  await step('library tabs work with the keyboard', async () => {
    const mine = pa.getByRole('tab', { name: 'My clips' });
    await mine.focus();
    await pa.keyboard.press('ArrowRight');
    const shared = pa.getByRole('tab', { name: 'Shared with me' });
    assert.equal(await shared.getAttribute('aria-selected'), 'true');
    assert.equal(await pa.evaluate(() => document.activeElement?.textContent?.trim()), 'Shared with me');
    await pa.getByRole('heading', { name: 'Nothing shared with you yet' }).waitFor();
    await assertAccessible(pa, 'library (shared)');
    await pa.keyboard.press('ArrowLeft');
    assert.equal(await mine.getAttribute('aria-selected'), 'true');
  });

  await step('the account page lists sessions and makes scoped tokens; sign out everywhere else ends both', async () => {
    // A second browser signs in as the admin (here a plain HTTP client).
    const login = await fetch(server.baseURL + '/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: server.baseURL, 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Mobile/15E148 Safari/604.1' },
      body: JSON.stringify({ email: admin.email, password: admin.password }),
    });
    assert.equal(login.status, 200);
    const phoneCookie = login.headers.getSetCookie().find((c) => c.startsWith('filmroom_session='))?.split(';')[0];
    assert.ok(phoneCookie, 'the login set a session cookie');
    const asPhone = () => fetch(server.baseURL + '/api/v1/me', { headers: { Cookie: phoneCookie } });
    assert.equal((await asPhone()).status, 200);

    await pa.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await expectPage(pa, 'Account');
    await pa.getByText(admin.email).waitFor();
    const sessions = pa.locator('section', { has: pa.getByRole('heading', { name: 'Where you are signed in' }) });
    await sessions.getByText('This browser').waitFor();
    await expectCount(sessions.locator('li'), 2);

    // A read-only token for a week, made with the keyboard.
    const tokens = pa.locator('section', { has: pa.getByRole('heading', { name: 'API tokens' }) });
    await tokens.getByLabel('Token name').fill('nightly export');
    await tokens.getByLabel('Access').selectOption({ label: 'Read only' });
    await tokens.getByLabel('Expires after').selectOption({ label: '7 days' });
    await tokens.getByLabel('Token name').focus();
    await pa.keyboard.press('Enter');
    const secret = tokens.getByLabel('New token');
    await secret.waitFor();
    const token = await secret.inputValue();
    assert.match(token, /^frt_/);
    const row = tokens.locator('li', { hasText: 'nightly export' });
    await row.getByText('Read only').waitFor();
    await row.getByText(/expires /).waitFor();
    const withToken = (method) => fetch(server.baseURL + '/api/v1/groups', { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: method === 'POST' ? '{"name":"By script"}' : undefined });
    assert.equal((await withToken('GET')).status, 200, 'a read token reads');
    assert.equal((await withToken('POST')).status, 403, 'a read token cannot write');
    await assertAccessible(pa, 'account with sessions and a token');
    await screenshot(pa, '04-account');

    // The other browser, signed out from here.
    await sessions.getByRole('button', { name: /^Sign out Safari on iPhone/ }).click();
    await expectCount(sessions.locator('li'), 1);
    assert.equal((await asPhone()).status, 401, 'the signed-out session no longer works');

    // Everywhere else: the token is revoked too, this browser stays.
    await tokens.getByLabel('Token name').fill('second');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    await tokens.locator('li', { hasText: 'second' }).waitFor();
    await sessions.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await sessions.getByText(/revoked 2 API tokens/).waitFor();
    await tokens.getByText('You have no API tokens.').waitFor();
    assert.equal((await withToken('GET')).status, 401, 'the token is revoked');
    await assertAccessible(pa, 'account after signing out everywhere else');
  });

  await step('sign out from the account page', async () => {
    await pa.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPage(pa, 'Sign in');
    await assertAccessible(pa, 'sign in');
    await screenshot(pa, '05-signin');
  });

  await step('a wrong password is refused with a message', async () => {
    await pa.getByLabel('Email address').fill(admin.email);
    await pa.getByLabel('Password').fill('not the password');
    await pa.getByRole('button', { name: 'Sign in' }).click();
    const alert = pa.locator('main [role="alert"]');
    await alert.waitFor();
    assert.notEqual((await alert.innerText()).trim(), '');
    assert.equal(await pa.locator('main h1').innerText(), 'Sign in');
    await assertAccessible(pa, 'sign in with error');
    await screenshot(pa, '06-signin-error');
  });

  await step('sign in again', async () => {
    await pa.getByLabel('Password').fill(admin.password);
    await pa.getByRole('button', { name: 'Sign in' }).click();
    await expectPage(pa, 'Library');
  });

  let groupURL;
  await step('create a group', async () => {
    await pa.getByRole('link', { name: 'Groups' }).click();
    await expectPage(pa, 'Groups');
    await pa.getByRole('heading', { name: 'You are not in any group yet' }).waitFor();
    await assertAccessible(pa, 'groups (empty)');
    await screenshot(pa, '07-groups-empty');
    await pa.getByLabel('Group name').fill(group.name);
    await pa.getByLabel('Description (optional)').fill(group.description);
    await pa.getByRole('button', { name: 'Create group' }).click();
    await expectPage(pa, group.name);
    groupURL = pa.url();
    await pa.locator('.member', { hasText: admin.name }).waitFor();
    await assertAccessible(pa, 'group (new)');
  });

  let inviteURL;
  await step('create an invite link for a teacher', async () => {
    await pa.getByLabel('Role in the group').selectOption('teacher');
    await pa.getByRole('button', { name: 'Create invite link' }).click();
    const link = pa.getByLabel('Invite link for a teacher');
    await link.or(pa.locator('main [role="alert"]')).first().waitFor();
    inviteURL = await link.inputValue();
    assert.match(inviteURL, new RegExp(`^${server.baseURL}/invite/[^/]+$`));
    await pa.getByRole('button', { name: 'Copy link' }).waitFor();
    await assertAccessible(pa, 'group with invite link');
    await screenshot(pa, '08-group-invite');
  });

  const b = await newPage(browser, { viewport: { width: 360, height: 780 } });
  const pb = b.page;

  await step('the invitee opens the link in another browser', async () => {
    await pb.goto(inviteURL);
    await expectPage(pb, 'Join a group');
    await pb.getByText(`${admin.name} invited you to join ${group.name} as a teacher.`).waitFor();
    await assertAccessible(pb, 'invitation (signed out)');
    await fitsWidth(pb, 'invitation at 360px');
    await screenshot(pb, '09-invite-mobile');
  });

  await step('the invitee signs up and sees the group with both members', async () => {
    await pb.getByLabel('Your name').fill(teacher.name);
    await pb.getByLabel('Email address').fill(teacher.email);
    await pb.getByLabel('Password').fill(teacher.password);
    await pb.getByRole('button', { name: 'Create account and join' }).click();
    await expectPage(pb, group.name);
    await pb.locator('.member', { hasText: teacher.name }).waitFor();
    await pb.locator('.member', { hasText: admin.name }).waitFor();
    await expectCount(pb.locator('.member'), 2);
    // A teacher sees roles but cannot manage members or invite.
    assert.equal(await pb.getByRole('button', { name: 'Create invite link' }).count(), 0);
    await assertAccessible(pb, 'group as teacher (mobile)');
    await fitsWidth(pb, 'group at 360px');
    await screenshot(pb, '10-group-teacher-mobile');
    // From the group to its clips in the library, one step.
    await pb.getByRole('link', { name: 'Clips shared with this group' }).click();
    await expectPage(pb, 'Library');
    assert.equal(await pb.getByRole('tab', { name: 'By group' }).getAttribute('aria-selected'), 'true');
    assert.equal(await pb.getByLabel('Group', { exact: true }).inputValue(), new URL(groupURL).pathname.split('/').pop());
    await pb.goBack();
    await expectPage(pb, group.name);
  });

  await step('the facilitator sees the new member', async () => {
    await pa.goto(groupURL);
    await expectPage(pa, group.name);
    await pa.locator('.member', { hasText: teacher.name }).waitFor();
    await expectCount(pa.locator('.member'), 2);
    await pa.getByLabel(`Role for ${teacher.name}`).waitFor();
    await assertAccessible(pa, 'group as facilitator');
    await screenshot(pa, '11-group-facilitator');
    await pa.getByRole('link', { name: 'Groups' }).first().click();
    await expectPage(pa, 'Groups');
    await pa.locator('.group-card', { hasText: '2 members' }).waitFor();
    await assertAccessible(pa, 'groups (one group)');
    await screenshot(pa, '12-groups-list');
  });

  await step('the invitee changes their password and signs in with it', async () => {
    const newPassword = 'an even longer passphrase for tom';
    await pb.getByRole('link', { name: 'Account' }).click();
    await expectPage(pb, 'Account');
    await pb.getByLabel('Current password').fill(teacher.password);
    await pb.getByRole('textbox', { name: 'New password', exact: true }).fill(newPassword);
    await pb.getByLabel('Repeat new password').fill(newPassword);
    await pb.getByRole('button', { name: 'Change password' }).click();
    await pb.getByText('Your password was changed.').or(pb.locator('main [role="alert"]')).first().waitFor();
    assert.equal(await pb.getByText('Your password was changed.').count(), 1);
    await assertAccessible(pb, 'account (mobile)');
    await fitsWidth(pb, 'account at 360px');
    await screenshot(pb, '13-account-mobile');
    await pb.getByRole('button', { name: 'Sign out', exact: true }).click();
    await expectPage(pb, 'Sign in');
    await pb.getByLabel('Email address').fill(teacher.email);
    await pb.getByLabel('Password').fill(newPassword);
    await pb.getByRole('button', { name: 'Sign in' }).click();
    await expectPage(pb, 'Library');
  });

  await step('a facilitator changes a member’s role', async () => {
    await pa.goto(groupURL);
    await expectPage(pa, group.name);
    await pa.getByLabel(`Role for ${teacher.name}`).selectOption('coach');
    await pa.getByRole('button', { name: 'Change role' }).click();
    await pa.getByText(`Role of ${teacher.name} changed to coach.`).or(pa.locator('main [role="alert"]')).first().waitFor();
    assert.equal(await pa.getByLabel(`Role for ${teacher.name}`).inputValue(), 'coach');
    await assertAccessible(pa, 'group after role change');
  });

  let caseloadURL;
  await step('a signed-in person joins another group from a link', async () => {
    await pa.getByRole('link', { name: 'Groups' }).first().click();
    await expectPage(pa, 'Groups');
    await pa.getByLabel('Group name').fill('Coaching caseload');
    await pa.getByRole('button', { name: 'Create group' }).click();
    await expectPage(pa, 'Coaching caseload');
    caseloadURL = pa.url();
    await pa.getByLabel('Role in the group').selectOption('peer');
    await pa.getByLabel('Link expires after').selectOption('24');
    await pa.getByRole('button', { name: 'Create invite link' }).click();
    const link = pa.getByLabel('Invite link for a peer');
    await link.or(pa.locator('main [role="alert"]')).first().waitFor();
    const url = await link.inputValue();

    await pb.goto(url);
    await expectPage(pb, 'Join a group');
    await pb.getByText(`You are signed in as ${teacher.name}`).waitFor();
    await assertAccessible(pb, 'invitation (signed in)');
    await screenshot(pb, '14-invite-signed-in-mobile');
    await pb.getByRole('button', { name: 'Join Coaching caseload' }).click();
    await expectPage(pb, 'Coaching caseload');
    await expectCount(pb.locator('.member'), 2);
  });

  await step('a facilitator removes a member', async () => {
    await pa.goto(caseloadURL);
    await expectPage(pa, 'Coaching caseload');
    await pa.locator('.member', { hasText: teacher.name }).waitFor();
    pa.once('dialog', (d) => d.accept());
    await pa.getByRole('button', { name: `Remove ${teacher.name} from the group` }).click();
    await pa.getByText(`${teacher.name} was removed from the group.`).or(pa.locator('main [role="alert"]')).first().waitFor();
    await expectCount(pa.locator('.member'), 1);
  });

  await step('broken and unknown addresses explain themselves', async () => {
    await pb.goto(server.baseURL + '/invite/no-such-invitation');
    await expectPage(pb, 'This invitation link does not work');
    await assertAccessible(pb, 'unknown invitation');
    await pb.goto(server.baseURL + '/no/such/page');
    await expectPage(pb, 'Page not found');
    await assertAccessible(pb, 'not found');
  });

  await step('a signed-out visitor signs in and returns to the page they asked for', async () => {
    const c = await newPage(browser);
    await c.page.goto(groupURL);
    await expectPage(c.page, 'Sign in');
    assert.equal(new URL(c.page.url()).searchParams.get('next'), new URL(groupURL).pathname);
    await c.page.getByLabel('Email address').fill(admin.email);
    await c.page.getByLabel('Password').fill(admin.password);
    await c.page.getByRole('button', { name: 'Sign in' }).click();
    await expectPage(c.page, group.name);
    assert.deepEqual(c.problems, []);
    await c.context.close();
  });

  await step('the first Tab reaches the skip link, which jumps to the content', async () => {
    await pa.goto(server.baseURL + '/groups');
    await expectPage(pa, 'Groups');
    await pa.keyboard.press('Tab');
    const focused = await pa.evaluate(() => document.activeElement?.textContent?.trim());
    assert.equal(focused, 'Skip to main content');
    await pa.keyboard.press('Enter');
    assert.equal(await pa.evaluate(() => document.activeElement?.id), 'main');
    assert.match(await pa.title(), /^Groups · filmroom$/);
  });

  await step('no script errors on either page', () => {
    assert.deepEqual([...a.problems, ...b.problems], []);
  });

  await a.context.close();
  await b.context.close();
});
