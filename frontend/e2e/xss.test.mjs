// Attack suite, stored XSS: every field a person writes is stored with a
// payload that would run script if any page put it into the DOM as HTML
// (an <img onerror>, an <svg onload>, a <script>, a javascript: link, a
// custom element), then every page that shows the field is opened in
// Chromium. Each visit first waits until the field's marker text is
// visible (so the page really rendered it, as text) and then asserts that
// no payload ran (window.__xss stays unset, no dialog), that no payload
// element exists in the DOM, and that the browser reported no page error and
// no Content-Security-Policy violation (a violation would mean the HTML was
// injected and only the CSP stopped it).
//
// Fields: user names, clip title and description, group name and
// description, rubric title, domain, criterion and level text, annotation
// Markdown, tags, replies, caption cues, reflection text, goal title and
// description, evidence notes. (API token names are stored too, but no page
// shows them.) The test logs the number of
// (field, page) cases it checked: "attack suite: stored XSS: N cases".

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { expectPage, launchBrowser, makeLesson, newPage, screenshot, sleep, startServer, steps } from './harness.mjs';
import { apiFor } from './api.mjs';

/**
 * x is the payload for a field: its marker, quotes that would end an HTML
 * attribute, then HTML that would run script.
 */
const x = (marker) => `XSS${marker}"'><img src=x onerror=__xss=1><svg onload=__xss=1><xss-probe data-xss></xss-probe>`;
/** short is the payload for fields of at most 100 characters. */
const short = (marker) => `XSS${marker}"'><img src=x onerror=__xss=1><xss-probe data-xss>`;

const teacher = { name: short('teacher'), email: 'tess@school.test', password: 'a long practice passphrase' };
const coach = { name: short('coach'), email: 'cora@school.test', password: 'another long passphrase' };
const markdown =
  `XSSbody **bold** <script>__xss=1</script> <img src=x onerror=__xss=1> [a link](javascript:__xss=1) ` +
  `<a href="javascript:__xss=1" data-xss>raw link</a> <iframe src="javascript:__xss=1"></iframe> ` +
  '![pic](x" onerror="__xss=1) <details open ontoggle=__xss=1>d</details>';

let server;
let browser;
let work;
let clipFile;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'filmroom-xss-e2e-'));
  clipFile = join(work, 'lesson.mp4');
  // Two seconds of picture without sound: quick to process, never captioned.
  makeLesson(clipFile, { size: '160x90', rate: 10, seconds: 2, tone: 0 });
  server = await startServer({ name: 'xss' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** openThread shows the replies of the one annotation on the review page. */
const openThread = (page) => page.getByRole('button', { name: /^1 repl/ }).click();

const { json, tusUpload } = apiFor(() => server.baseURL);

/** open makes a browser page that records dialogs and CSP violations too. */
async function open() {
  const P = await newPage(browser);
  P.dialogs = [];
  P.csp = [];
  P.page.on('dialog', (d) => {
    P.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  P.page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) P.csp.push(msg.text());
  });
  return P;
}

let cases = 0;

/**
 * visit opens path as P, waits until every marker is shown as text, and
 * asserts that nothing of the payloads ran or became an element.
 */
async function visit(P, path, heading, markers, prepare) {
  await P.page.goto(server.baseURL + path);
  if (heading) await expectPage(P.page, heading);
  if (prepare) await prepare(P.page);
  for (const m of markers) {
    try {
      await P.page.getByText(`XSS${m}`).filter({ visible: true }).first().waitFor();
    } catch (err) {
      await screenshot(P.page, `xss-missing-${m}`);
      throw new Error(`XSS${m} is not shown on ${path}: ${err.message}\n${await P.page.locator('main').innerText()}`);
    }
    cases++;
  }
  // Give handlers of injected elements (an image's error, a toggle) a turn.
  await P.page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
  const where = `${path} (${markers.join(', ')})`;
  assert.equal(await P.page.evaluate(() => window.__xss), undefined, `a payload ran on ${where}`);
  const injected = await P.page
    .locator('xss-probe, [data-xss], img[src="x"], svg[onload], iframe, details[ontoggle], a[href^="javascript:" i], script:not([src])')
    .count();
  assert.equal(injected, 0, `payload HTML became elements on ${where}`);
  assert.deepEqual(P.dialogs, [], `a dialog opened on ${where}`);
  assert.deepEqual(P.csp, [], `the CSP stopped injected script on ${where}`);
  assert.deepEqual(P.problems, [], `page errors on ${where}`);
}

test('stored XSS payloads in every user-written field run nowhere', async (t) => {
  const step = steps(t);
  const A = await open(); // teacher (the first admin)
  const B = await open(); // coach
  let clipId;
  let groupId;
  let rubricId;
  let teacherId;

  await step('the teacher and the coach store payloads in everything they write', async () => {
    await A.page.goto(server.baseURL + '/');
    await expectPage(A.page, 'Welcome to filmroom');
    teacherId = (await json(A.context, 'POST', '/api/v1/setup', teacher)).user.id;
    groupId = (await json(A.context, 'POST', '/api/v1/groups', { name: x('group'), description: x('groupdesc') })).group.id;
    const inv = (await json(A.context, 'POST', `/api/v1/groups/${groupId}/invitations`, { role: 'coach' })).invitation;
    // A stranger opening the invitation sees the group's name and the inviter's.
    const S = await open();
    await visit(S, `/invite/${inv.token}`, null, ['group', 'teacher']);
    await B.page.goto(server.baseURL + '/signin');
    await json(B.context, 'POST', `/api/v1/invitations/${inv.token}/accept`, coach);
    await json(A.context, 'POST', '/api/v1/me/tokens', { name: short('token'), scope: 'read', expires_in_days: 30 });

    await tusUpload(A.context, clipFile, { filename: 'lesson.mp4', filetype: 'video/mp4', title: x('title') });
    while (!clipId) {
      const mine = await json(A.context, 'GET', '/api/v1/clips?scope=mine');
      clipId = mine.clips.find((c) => c.title === x('title'))?.id;
      if (!clipId) await sleep(200);
    }
    rubricId = (
      await json(B.context, 'POST', '/api/v1/rubrics', {
        group_id: groupId,
        title: x('rubric'),
        description: x('rubricdesc'),
        domains: [
          {
            key: 'q',
            title: x('domain'),
            criteria: [{ key: 'wait', title: x('crit'), levels: [{ key: '1', label: short('level'), score: 1 }] }],
          },
        ],
      })
    ).id;
    await json(A.context, 'PATCH', `/api/v1/clips/${clipId}`, { description: x('clipdesc'), rubric_id: rubricId });
    await json(A.context, 'PUT', `/api/v1/clips/${clipId}/audience`, { group_ids: [groupId] });
    for (;;) {
      const { clip } = await json(A.context, 'GET', `/api/v1/clips/${clipId}`);
      assert.notEqual(clip.status, 'failed', JSON.stringify(clip.failure));
      if (clip.status === 'ready') break;
      await sleep(300);
    }
    const ann = await json(B.context, 'POST', `/api/v1/clips/${clipId}/annotations`, {
      start_ms: 500,
      body: markdown,
      kind: 'strength',
      visibility: 'audience',
      tags: ['xsstag"><img src=x onerror=__xss=1>'],
      criterion: 'wait',
      level: '1',
    });
    await json(A.context, 'POST', `/api/v1/clips/${clipId}/annotations/${ann.id}/replies`, { body: x('reply') });
    await json(A.context, 'PUT', `/api/v1/clips/${clipId}/captions/en/cues`, {
      cues: [{ start_ms: 0, end_ms: 1500, text: 'XSScue &lt;img src=x onerror=__xss=1&gt; <c.x>&lt;script&gt;__xss=1&lt;/script&gt;</c>' }],
    });
    await json(A.context, 'PUT', `/api/v1/clips/${clipId}/reflection`, { went_well: x('wentwell'), to_change: x('tochange'), evidence: x('evidence') });
    await json(A.context, 'POST', `/api/v1/clips/${clipId}/reflection/submit`);
    const goal = await json(A.context, 'POST', '/api/v1/goals', { title: x('goal'), description: x('goaldesc') });
    await json(A.context, 'POST', `/api/v1/goals/${goal.id}/evidence`, { clip_id: clipId, note: x('note') });
  });

  await step('the teacher opens every page that shows them', async () => {
    await visit(A, '/', null, ['title']);
    await visit(A, `/clips/${clipId}`, 'XSStitle', ['title', 'body', 'tag', 'reply', 'coach', 'cue'], openThread);
    await visit(A, '/groups', 'Groups', ['group']);
    await visit(A, `/groups/${groupId}`, 'XSSgroup', ['group', 'groupdesc', 'coach']);
    await visit(A, '/account', null, ['teacher']);
    await visit(A, '/goals', null, ['goal', 'goaldesc', 'note']);
    await visit(A, '/growth', null, ['crit']);
  });

  await step('the coach opens every page that shows them', async () => {
    await visit(B, `/clips/${clipId}`, 'XSStitle', ['title', 'body', 'tag', 'reply', 'teacher', 'crit', 'level', 'cue', 'wentwell', 'tochange', 'evidence'], openThread);
    await visit(B, '/', null, ['title'], (page) => page.getByRole('tab', { name: 'Shared with me' }).click());
    // The group's name is an option of the group chooser here.
    await visit(B, '/', null, ['title'], (page) => page.getByRole('tab', { name: 'By group' }).click());
    await visit(B, '/rubrics', null, ['rubric']);
    // The editor shows domains, criteria and levels in form fields.
    await visit(B, `/rubrics/${rubricId}`, null, ['rubric', 'group']);
    await visit(B, `/growth/${teacherId}`, null, ['crit']);
    await visit(B, `/groups/${groupId}`, 'XSSgroup', ['group', 'teacher']);
  });

  console.log(`attack suite: stored XSS: ${cases} cases`);
  assert.ok(cases >= 30, `only ${cases} field and page cases were checked`);
});
