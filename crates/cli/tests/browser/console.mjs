// The pipelog web console, driven in a real Chromium (Debian's /usr/bin/chromium) through
// playwright-core. Run by crates/cli/tests/it/console.rs against a server it started, or
// by hand:
//
//   PIPELOG_URL=http://127.0.0.1:PORT PIPELOG_KEY=<operator key> \
//   PIPELOG_SCREENSHOTS=/tmp/shots PIPELOG_BIG_EXECUTION=<id> node console.mjs
//
// PIPELOG_BIG_EXECUTION names an execution holding many lines (1,000,000 in the test),
// line n (from 0) reading `line <n> ...`; everything else is seeded here through the API.
// Each step is named, ends with a full-page screenshot `<step>.png`, and fails on any
// dialog, uncaught exception or console error (CSP violations are console errors). The
// first failure ends the run with a non-zero exit, naming the step and why.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`console.mjs: the environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const BASE = required('PIPELOG_URL').replace(/\/+$/, '');
const KEY = required('PIPELOG_KEY');
const SCREENSHOTS = required('PIPELOG_SCREENSHOTS');
const BIG = required('PIPELOG_BIG_EXECUTION');
const CHROMIUM = '/usr/bin/chromium';
/** Makes this run's seeds distinct from an earlier run's on the same server. */
const RUN = Date.now().toString(36);
/** How long a page may take to show what a step waits for. */
const PATIENCE = 15_000;
/** The first page of the large log must show within this. */
const FIRST_PAGE_MS = 10_000;
/** A line followed live must show within this of its append's answer. */
const FOLLOW_MS = 5_000;
/** The viewer keeps no more rows than this in the DOM, however long the log. */
const MAX_ROWS = 3_000;

mkdirSync(SCREENSHOTS, { recursive: true });

// ---------------------------------------------------------------------------------------
// The API, with the operator key.

async function call(method, route, body, { headers = {}, expect } = {}) {
  const init = { method, headers: { 'X-Api-Key': KEY, Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + route, init);
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text
  }
  const ok = expect === undefined ? response.ok : response.status === expect;
  if (!ok) {
    throw new Error(`seeding through the API: ${method} ${route} answered ${response.status}: ${text.slice(0, 400)}`);
  }
  return parsed;
}

async function launch(jobKey) {
  return (await call('POST', '/v1/executions', { jobKey })).id;
}
const start = (id) => call('POST', `/v1/executions/${id}/start`);
const end = (id, status) => call('POST', `/v1/executions/${id}/end`, { status });
const append = (id, lines) => call('POST', `/v1/executions/${id}/logs`, lines);

// ---------------------------------------------------------------------------------------
// Checks with messages that say what was expected.

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Polls `probe` (an async function) until it answers something truthy; its answer. */
async function until(probe, what, timeout = PATIENCE) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`${what}: not so within ${timeout} ms${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits for `selector` to be visible. */
async function visible(selector, what, timeout = PATIENCE) {
  try {
    await page.locator(selector).first().waitFor({ state: 'visible', timeout });
  } catch {
    const present = await page.locator(selector).count();
    throw new Error(`${what}: \`${selector}\` not visible within ${timeout} ms (${present} in the DOM)`);
  }
}

/** The text of the first element matching `selector`, or null. */
async function textOf(selector) {
  const locator = page.locator(selector);
  return (await locator.count()) ? (await locator.first().textContent()) ?? '' : null;
}

/** Whether the element matching `selector` shows inside both `#log-view` and the window. */
async function shownInLogView(selector) {
  return page.evaluate((selector) => {
    const view = document.querySelector('#log-view');
    const element = document.querySelector(selector);
    if (!view || !element) return false;
    const outer = view.getBoundingClientRect();
    const inner = element.getBoundingClientRect();
    const top = Math.max(outer.top, 0, inner.top);
    const bottom = Math.min(outer.bottom, window.innerHeight, inner.bottom);
    return inner.height > 0 && bottom - top >= Math.min(inner.height, 8);
  }, selector);
}

/** The seqs of the `.log-row`s in the DOM, and of those shown inside the view. */
async function rows() {
  return page.evaluate(() => {
    const view = document.querySelector('#log-view');
    const outer = view ? view.getBoundingClientRect() : null;
    const all = [];
    const shown = [];
    for (const row of document.querySelectorAll('#log-view .log-row')) {
      const seq = Number(row.dataset.seq);
      all.push(seq);
      const inner = row.getBoundingClientRect();
      if (outer && inner.height > 0 && inner.bottom > Math.max(outer.top, 0) && inner.top < Math.min(outer.bottom, window.innerHeight)) {
        shown.push({ seq, text: row.textContent });
      }
    }
    return { count: all.length, min: Math.min(...all), max: Math.max(...all), shown };
  });
}

function cspDirectives(header) {
  const directives = {};
  for (const part of (header || '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives[name.toLowerCase()] = values;
  }
  return directives;
}

function checkCsp(response, where) {
  const header = response.headers()['content-security-policy'];
  check(header, `${where} has no Content-Security-Policy header`);
  const directives = cspDirectives(header);
  const scripts = directives['script-src'] ?? directives['default-src'];
  check(scripts, `${where}: the Content-Security-Policy has neither script-src nor default-src: ${header}`);
  check(!scripts.includes("'unsafe-inline'"), `${where}: script-src allows 'unsafe-inline': ${header}`);
  check(!scripts.includes("'unsafe-eval'"), `${where}: script-src allows 'unsafe-eval': ${header}`);
}

async function goto(route) {
  const response = await page.goto(BASE + route);
  check(response, `no answer for ${route}`);
  check(response.ok(), `${route} answered ${response.status()}`);
  return response;
}

/** Clicks what `locator` names and waits for the navigation it starts. */
async function submitAndWait(locator) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().method() === 'POST', { timeout: PATIENCE }),
    locator.click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

// ---------------------------------------------------------------------------------------
// The browser, and what the page reports during each step.

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Paris', locale: 'en-GB' });
const page = await context.newPage();
page.setDefaultTimeout(PATIENCE);

/** Problems the page reported during the current step: each fails it. */
let problems = [];
/** Console errors the current step expects (a refused sign-in's 401), as a pattern. */
let excused = null;
/**
 * The one dialog the current step expects (revoking a key asks for confirmation), as
 * `{type, pattern, seen}`: accepted. Any other dialog (an `alert` from injected script...)
 * is dismissed and fails the step.
 */
let expectedDialog = null;
page.on('dialog', (dialog) => {
  const expected = expectedDialog;
  if (expected && !expected.seen && dialog.type() === expected.type && expected.pattern.test(dialog.message())) {
    expected.seen = true;
    dialog.accept().catch(() => {});
    return;
  }
  problems.push(`a ${dialog.type()} dialog opened: ${JSON.stringify(dialog.message())}`);
  dialog.dismiss().catch(() => {});
});
page.on('pageerror', (error) => problems.push(`uncaught exception in the page: ${error.message}`));
/** Whether the browser's own request for /favicon.ico failed (said once, not a failure). */
let faviconNoted = false;
page.on('console', (message) => {
  if (message.type() !== 'error') return;
  const text = message.text();
  if (excused && excused.test(text)) return;
  const where = message.location()?.url;
  if (where && new URL(where).pathname === '/favicon.ico') {
    if (!faviconNoted) console.log(`  note: the browser's own /favicon.ico request failed (${text}); not counted`);
    faviconNoted = true;
    return;
  }
  problems.push(`console error: ${text}${where ? ` (${where})` : ''}`);
});

const steps = [];
function step(name, title, run) {
  steps.push({ name, title, run });
}

// What steps hand on to later ones.
let sessionCookie = null;

// ---------------------------------------------------------------------------------------
// a. Sign in.

step('sign-in', 'sign in with the key, a session cookie, a strict CSP', async () => {
  const login = await page.goto(BASE + '/console/');
  check(new URL(page.url()).pathname === '/console/login', `/console/ should lead to /console/login, it led to ${page.url()}`);
  check(login && login.status() === 200, `the sign-in page answered ${login?.status()}`);
  checkCsp(login, 'the sign-in page');
  await visible('#login input[name=key]', 'the sign-in form');
  const type = await page.getAttribute('#login input[name=key]', 'type');
  check(type === 'password', `the key field should be type=password, it is type=${type}`);

  // A wrong key: refused, with a message, still on the sign-in page.
  excused = /status of 40[013]/;
  await page.fill('#login input[name=key]', `pl_not_a_key_${RUN}_0123456789`);
  const refused = await submitAndWait(page.locator('#login [type=submit], #login button').first());
  excused = null;
  check(refused.status() !== 500, 'signing in with a wrong key answered 500');
  check(new URL(page.url()).pathname === '/console/login', `a wrong key should stay on the sign-in page, it went to ${page.url()}`);
  const body = await page.locator('body').innerText();
  const message =
    (await page.locator('.error:visible, [role=alert]:visible').count()) > 0 ||
    /invalid|wrong|unknown|not valid|refused|incorrect|revoked|not recognised|not recognized/i.test(body);
  check(message, `a wrong key should be refused with a message; the page says: ${JSON.stringify(body.slice(0, 300))}`);
  check(!body.includes(`pl_not_a_key_${RUN}`), 'the refused key is shown back in the page');
  for (const cookie of await context.cookies()) {
    const answer = await fetch(`${BASE}/v1/executions?limit=1`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
    check(answer.status === 401, `after a refused sign-in, the cookie ${cookie.name} reads /v1/executions (${answer.status})`);
  }

  // The right key: the executions page.
  await page.fill('#login input[name=key]', KEY);
  await submitAndWait(page.locator('#login [type=submit], #login button').first());
  await page.waitForURL((url) => url.pathname === '/console/executions', { timeout: PATIENCE }).catch(() => {});
  check(new URL(page.url()).pathname === '/console/executions', `the right key should land on /console/executions, it landed on ${page.url()}`);

  // The cookies: none holds the key; the one that is the session is HttpOnly, SameSite=Strict.
  const cookies = await context.cookies();
  check(cookies.length > 0, 'signing in set no cookie');
  for (const cookie of cookies) {
    for (const form of [KEY, encodeURIComponent(KEY), Buffer.from(KEY).toString('base64')]) {
      check(!cookie.value.includes(form), `the cookie ${cookie.name} holds the key`);
    }
  }
  for (const cookie of cookies) {
    const answer = await fetch(`${BASE}/v1/executions?limit=1`, { headers: { Cookie: `${cookie.name}=${cookie.value}` } });
    if (answer.status === 200) sessionCookie = cookie;
  }
  check(sessionCookie, `no cookie alone reads /v1/executions (cookies: ${cookies.map((c) => c.name).join(', ')})`);
  check(sessionCookie.httpOnly, `the session cookie ${sessionCookie.name} is not HttpOnly`);
  check(sessionCookie.sameSite === 'Strict', `the session cookie ${sessionCookie.name} is SameSite=${sessionCookie.sameSite}, not Strict`);

  const executions = await goto('/console/executions');
  checkCsp(executions, '/console/executions');
  await visible('#executions', 'the executions list');
});

// ---------------------------------------------------------------------------------------
// b. The executions list.

/** The text of the badge in the row of `#executions` that shows `text`, or null. */
async function badgeBeside(text) {
  return page.evaluate((text) => {
    const container = document.querySelector('#executions');
    if (!container) return null;
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      if (!walker.currentNode.data.includes(text)) continue;
      for (let element = walker.currentNode.parentElement; element && element !== container; element = element.parentElement) {
        const badges = element.querySelectorAll('.badge');
        if (badges.length === 1) return badges[0].textContent.trim();
        if (badges.length > 1) return `(${badges.length} badges in one row)`;
      }
      return '(no badge)';
    }
    return null;
  }, text);
}

step('executions', 'the executions list, its status badges and its status filter', async () => {
  const seeded = {};
  for (const status of ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED']) {
    const jobKey = `console-${RUN}-${status.toLowerCase()}`;
    const id = await launch(jobKey);
    if (status !== 'QUEUED') await start(id);
    await append(id, [{ message: `a line of ${jobKey}` }]);
    if (status === 'COMPLETED' || status === 'FAILED') await end(id, status);
    seeded[status] = { jobKey, id };
  }
  await goto('/console/executions');
  for (const [status, { jobKey }] of Object.entries(seeded)) {
    const badge = await until(() => badgeBeside(jobKey), `the execution ${jobKey} listed in #executions`);
    check(badge === status, `the execution ${jobKey} should show the badge ${status}, it shows ${badge}`);
    const classes = await page.locator(`#executions .badge:text-is("${status}")`).first().getAttribute('class');
    check(classes.split(/\s+/).includes(`badge-${status.toLowerCase()}`), `the ${status} badge has the classes "${classes}"`);
  }
  const link = page.locator(`#executions a[href$="/console/executions/${seeded.FAILED.id}"]`);
  check((await link.count()) > 0, `no link to /console/executions/${seeded.FAILED.id} in #executions`);

  // Filter on FAILED: with the page's own control when it has one, else by the address.
  const select = page.locator('#main select').filter({ has: page.locator('option[value="FAILED"]') });
  const box = page.locator('#main input[type=checkbox][value="FAILED"]');
  if (await select.count()) {
    const multiple = await select.first().evaluate((element) => element.multiple);
    await select.first().selectOption(multiple ? ['FAILED'] : 'FAILED');
  } else if (await box.count()) {
    await box.first().check();
  } else {
    throw new Error('no status filter in the page: neither a <select> with an option FAILED nor a checkbox of value FAILED');
  }
  const apply = page.locator('#main form:has(select, input[value="FAILED"]) [type=submit]');
  if (await apply.count()) await apply.first().click();
  await until(async () => (await badgeBeside(seeded.FAILED.jobKey)) === 'FAILED' && (await badgeBeside(seeded.COMPLETED.jobKey)) === null,
    `filtering on FAILED: ${seeded.FAILED.jobKey} listed and ${seeded.COMPLETED.jobKey} gone`);
  const badges = await page.locator('#executions .badge').allTextContents();
  check(badges.length > 0 && badges.every((text) => text.trim() === 'FAILED'), `filtering on FAILED still lists badges ${JSON.stringify([...new Set(badges)])}`);
});

// ---------------------------------------------------------------------------------------
// c. The large execution.

step('large-log', 'the 1,000,000-line execution: first page, End, scrolling back, a line by its address', async () => {
  const last = (await call('GET', `/v1/executions/${BIG}/logs?limit=1&order=desc`)).data[0];
  const first = (await call('GET', `/v1/executions/${BIG}/logs?limit=1&order=asc`)).data[0];
  const number = (line) => Number(/^line (\d+) /.exec(line.message)?.[1]);
  const offset = last.seq - number(last);
  check(first.seq === offset && number(first) === 0, `the large execution should start with "line 0" at seq ${offset}: ${JSON.stringify(first)}`);
  const expected = (seq) => `line ${seq - offset} `;
  console.log(`  the large execution holds ${number(last) + 1} lines, seq ${first.seq} to ${last.seq}`);

  const opened = Date.now();
  await goto(`/console/executions/${BIG}`);
  let seen = await until(async () => {
    const now = await rows();
    return now.shown.length > 0 && now.shown.every(({ seq, text }) => text.includes(expected(seq))) ? now : null;
  }, 'the first page of the large log shown in #log-view, each row reading its own line', FIRST_PAGE_MS);
  console.log(`  the first page (seqs ${seen.shown[0].seq} to ${seen.shown.at(-1).seq}) showed ${Date.now() - opened} ms after the page was asked for`);
  check(seen.count < MAX_ROWS, `the first page put ${seen.count} rows in the DOM`);

  // End: the last line, shown in the view.
  await page.click('#log-end');
  const lastRow = `#log-view .log-row[data-seq="${last.seq}"]`;
  await until(() => shownInLogView(lastRow), `after #log-end, the row of seq ${last.seq} shown inside #log-view`);
  const lastText = await textOf(lastRow);
  check(lastText.includes(`line ${number(last)}`), `the row of seq ${last.seq} reads ${JSON.stringify(lastText.slice(0, 80))}, not "line ${number(last)}"`);
  seen = await rows();
  check(seen.count < MAX_ROWS, `after End, ${seen.count} rows in the DOM`);
  const lowestAtEnd = seen.min;

  // Scroll up with the wheel: earlier lines load, the DOM stays bounded.
  const view = await page.locator('#log-view').boundingBox();
  check(view && view.height > 0, '#log-view has no size');
  await page.mouse.move(view.x + view.width / 2, view.y + Math.min(view.height / 2, 300));
  for (let turn = 0; turn < 8; turn += 1) {
    await page.mouse.wheel(0, -3000);
    await page.waitForTimeout(300);
    const now = await rows();
    check(now.count < MAX_ROWS, `scrolling up, ${now.count} rows in the DOM`);
  }
  seen = await until(async () => {
    const now = await rows();
    const right = now.shown.length > 0 && now.shown.every(({ seq, text }) => text.includes(expected(seq)));
    return now.min < lowestAtEnd && now.shown.every(({ seq }) => seq < last.seq) && right ? now : null;
  }, `scrolling up from the end: rows before seq ${lowestAtEnd} shown, each reading its own line`);
  console.log(`  after scrolling up: seqs ${seen.shown[0].seq} to ${seen.shown.at(-1).seq} shown, ${seen.count} rows in the DOM`);
  check(seen.count < MAX_ROWS, `after scrolling, ${seen.count} rows in the DOM`);

  // A line by its address.
  const target = Math.ceil(last.seq / 2);
  await page.goto('about:blank');
  await goto(`/console/executions/${BIG}#seq-${target}`);
  const targetRow = `#log-view .log-row[data-seq="${target}"]`;
  await until(() => shownInLogView(targetRow), `#seq-${target}: the row of seq ${target} shown inside #log-view`);
  const highlighted = await page.locator(targetRow).first().evaluate((row) => row.classList.contains('log-target') || Boolean(row.closest('.log-target')) || Boolean(row.querySelector('.log-target')));
  check(highlighted, `#seq-${target}: the row of seq ${target} is not highlighted (.log-target)`);
  check((await textOf(targetRow)).includes(expected(target)), `the row of seq ${target} does not read "${expected(target)}..."`);
  seen = await rows();
  check(seen.count < MAX_ROWS, `at #seq-${target}, ${seen.count} rows in the DOM`);
});

// ---------------------------------------------------------------------------------------
// d. Following a running execution.

step('follow', 'a running execution followed live, then ended', async () => {
  const jobKey = `console-${RUN}-follow`;
  const id = await launch(jobKey);
  await start(id);
  await append(id, [1, 2, 3].map((n) => ({ message: `before following ${n}` })));
  await goto(`/console/executions/${id}`);
  await until(async () => (await page.locator('#log-view .log-row').count()) >= 3, 'the three lines written before the page opened');
  const status = await textOf('#execution-status');
  check(status?.trim() === 'RUNNING', `#execution-status should read RUNNING, it reads ${JSON.stringify(status)}`);
  const follow = page.locator('#log-follow');
  if (await follow.count()) {
    const on = await follow.first().evaluate((element) =>
      element.checked === true || element.getAttribute('aria-pressed') === 'true' || element.getAttribute('aria-checked') === 'true');
    check(on, '#log-follow is not on for a running execution');
  } else {
    console.log('  (no #log-follow control in the page: following is judged by the new line alone)');
  }
  // Let the live stream open before the line is written.
  await page.waitForTimeout(500);

  const message = `followed live ${RUN}`;
  await append(id, [{ message, severity: 'warning' }]);
  const appended = Date.now();
  const row = page.locator('#log-view .log-row', { hasText: message });
  try {
    await row.first().waitFor({ state: 'visible', timeout: FOLLOW_MS });
  } catch {
    throw new Error(`the line "${message}" appended through the API did not show in #log-view within ${FOLLOW_MS} ms`);
  }
  console.log(`  the appended line showed ${Date.now() - appended} ms after its append answered`);
  const seq = await row.first().getAttribute('data-seq');
  await until(() => shownInLogView(`#log-view .log-row[data-seq="${seq}"]`), 'the followed line shown inside the view');

  await end(id, 'COMPLETED');
  await until(async () => (await textOf('#execution-status'))?.trim() === 'COMPLETED', '#execution-status reading COMPLETED after the execution ended');
  const classes = (await page.getAttribute('#execution-status', 'class')) ?? '';
  check(classes.split(/\s+/).includes('badge-completed'), `#execution-status has the classes "${classes}", not badge-completed`);
  check((await page.getAttribute('main', 'data-status')) === 'COMPLETED', 'main[data-status] is not COMPLETED after the end');
  await visible('#log-ended', 'the end of the log (#log-ended)', 10_000);
});

// ---------------------------------------------------------------------------------------
// e. Hostile content.

step('hostile', 'hostile markdown, emitter, job key and ANSI codes shown as text or safe HTML', async () => {
  const hostileKey = `console-${RUN}-<img src=x onerror="window.__pwned=1">`;
  const id = await launch(hostileKey);
  const markdown = [
    '**bold** and *emphasis*',
    '',
    '<script>window.__pwned=1</script>',
    '',
    '<img src=x onerror="window.__pwned=1">',
    '',
    '[link](javascript:window.__pwned=1)',
    '',
    '- first item',
    '- second item',
  ].join('\n');
  await append(id, [
    { message: markdown, messageType: 'MARKDOWN', emitterName: '<b>emitter</b>' },
    { message: 'plain \u001b[31mred\u001b[0m and plain again', emitterName: 'ansi' },
    { message: '<script>window.__pwned=1</script> as text', emitterName: 'text' },
  ]);
  await end(id, 'COMPLETED');

  // The list shows the hostile job key as text.
  await goto('/console/executions');
  await until(() => page.evaluate(() => document.querySelector('#executions')?.textContent.includes('onerror="window.__pwned=1"')), 'the hostile job key listed as text in #executions');
  check((await page.evaluate(() => typeof window.__pwned)) === 'undefined', 'window.__pwned is set on the executions list');
  check((await page.locator('[onerror]').count()) === 0, 'an element with an onerror attribute on the executions list');

  // The execution's page.
  await goto(`/console/executions/${id}`);
  await until(async () => (await page.locator('#log-view .log-row').count()) >= 3, 'the three hostile lines in #log-view');
  await page.waitForTimeout(500);
  const found = await page.evaluate(() => {
    const view = document.querySelector('#log-view');
    const texts = [];
    const walker = document.createTreeWalker(view, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) texts.push(walker.currentNode.data);
    return {
      pwned: typeof window.__pwned,
      strong: [...view.querySelectorAll('strong')].map((element) => element.textContent),
      items: view.querySelectorAll('li').length,
      scripts: view.querySelectorAll('script').length,
      onerror: document.querySelectorAll('[onerror]').length,
      javascript: [...view.querySelectorAll('[href], [src]')]
        .map((element) => element.getAttribute('href') ?? element.getAttribute('src'))
        .filter((value) => /^\s*javascript:/i.test(value ?? '')).length,
      emitter: texts.some((text) => text.includes('<b>emitter</b>')),
      boldEmitter: [...view.querySelectorAll('b')].some((element) => element.textContent === 'emitter'),
      red: [...view.querySelectorAll('span.ansi-fg-1')].map((element) => element.textContent),
      escapes: view.textContent.includes('\u001b') || view.textContent.includes('[31m'),
      scriptAsText: view.textContent.includes('<script>window.__pwned=1</script> as text'),
      title: document.querySelector('h1')?.textContent ?? '',
      pageScripts: [...document.scripts].map((script) => script.src || '(inline)'),
    };
  });
  check(found.pwned === 'undefined', 'window.__pwned is set: hostile content ran');
  check(found.strong.includes('bold'), `the markdown **bold** should render as <strong>bold</strong>; <strong>s: ${JSON.stringify(found.strong)}`);
  check(found.items >= 2, `the markdown list should render as <li>s, ${found.items} found`);
  check(found.scripts === 0, `${found.scripts} <script> elements inside #log-view`);
  check(found.onerror === 0, `${found.onerror} elements with an onerror attribute in the page`);
  check(found.javascript === 0, `${found.javascript} javascript: links inside #log-view`);
  check(found.emitter, 'the emitter <b>emitter</b> is not shown as that literal text');
  check(!found.boldEmitter, 'the emitter <b>emitter</b> was parsed as HTML');
  check(found.red.includes('red'), `"red" should sit in a span.ansi-fg-1; such spans hold ${JSON.stringify(found.red)}`);
  check(!found.escapes, 'raw ANSI escape codes are shown in the log');
  check(found.scriptAsText, 'a text line holding <script> is not shown as that literal text');
  check(found.title.includes('<img src=x onerror="window.__pwned=1">'), `the hostile job key is not shown literally in the title: ${JSON.stringify(found.title)}`);
  check(found.pageScripts.every((src) => src.startsWith(`${BASE}/console/assets/`)), `scripts in the page other than the console's: ${found.pageScripts.join(', ')}`);
});

// ---------------------------------------------------------------------------------------
// f. The audit log.

step('audit', 'the audit page: a type = job.end query built with the controls, details, the chain verified', async () => {
  await goto('/console/audit');
  await visible('#audit-search', 'the audit search button');
  // The builder: a field, an operator and a value; the DSL text when there is no builder.
  const fields = page.locator('#audit select').filter({ has: page.locator('option[value="type"]') });
  if (await fields.count()) {
    const field = fields.first();
    await field.selectOption('type');
    const row = field.locator('xpath=..');
    const operators = row.locator('select').filter({ has: page.locator('option[value="eq"]') });
    check(await operators.count(), 'the query builder has no operator <select> with an option eq beside its field');
    await operators.first().selectOption('eq');
    const value = row.locator('input:not([type=checkbox]):not([type=hidden])');
    check(await value.count(), 'the query builder has no value input beside its field');
    await value.first().fill('job.end');
    // The builder writes the find query it makes into #audit-dsl, as JSON.
    const dsl = page.locator('#audit-dsl');
    check(await dsl.count(), 'no #audit-dsl in the page');
    await until(async () => {
      const query = JSON.parse(await dsl.inputValue());
      return query.type === 'eq' && query.field === 'type' && query.value === 'job.end';
    }, '#audit-dsl holding the query the builder made, {"type": "eq", "field": "type", "value": "job.end"}');
  } else {
    console.log('  (no <select> with an option "type" in #audit: the query is written into #audit-dsl)');
    await visible('#audit-dsl', 'the audit query text (#audit-dsl)');
    await page.fill('#audit-dsl', JSON.stringify({ type: 'eq', field: 'type', value: 'job.end' }));
  }
  await page.click('#audit-search');
  await until(async () => (await page.locator('#audit-results .audit-row').count()) > 0, 'at least one .audit-row in #audit-results');
  const texts = await page.locator('#audit-results .audit-row').allTextContents();
  check(texts.every((text) => text.includes('job.end')), `rows other than job.end found: ${JSON.stringify(texts.find((text) => !text.includes('job.end'))?.slice(0, 200))}`);

  // Details: open the first row.
  const first = page.locator('#audit-results .audit-row').first();
  const toggle = first.locator('summary, button, [aria-expanded]');
  await ((await toggle.count()) ? toggle.first() : first).click();
  await until(async () => {
    const text = await page.locator('#audit-results').innerText();
    return text.includes('jobInstanceStatus');
  }, 'the first job.end entry\'s details (jobInstanceStatus) shown');

  // The chain.
  const verify = page.locator('#audit-verify');
  check(await verify.count(), 'no #audit-verify in the page');
  if (await verify.first().evaluate((element) => element.tagName === 'BUTTON' || element.matches('input[type=button], input[type=submit]'))) {
    await verify.first().click();
  }
  const report = await until(async () => {
    const text = await verify.first().evaluate((element) => (element.tagName === 'BUTTON' ? element.parentElement : element).innerText);
    return /verified|intact|\bvalid\b/i.test(text) && !/broken|invalid|not valid|fail/i.test(text) ? text : null;
  }, '#audit-verify reporting the chain verified');
  console.log(`  #audit-verify: ${JSON.stringify(report.trim().slice(0, 160))}`);
});

// ---------------------------------------------------------------------------------------
// g. Operations.

step('operations', 'an operation listed, its Gantt chart, items and statistics', async () => {
  const operationId = randomUUID();
  const publisher = randomUUID();
  const platform = randomUUID();
  const consumer = randomUUID();
  const hostileSource = `<script>window.__pwned=1</script>Erp ${RUN}`;
  const t0 = Date.now() - 60_000;
  const at = (ms) => new Date(t0 + ms).toISOString();
  const item = (ms, operationType, activityType, sourceId, source, extra = {}) =>
    ({ operationId, operationType, activityType, sourceId, source, utcTimestamp: at(ms), message: `${activityType} of ${source}`, ...extra });
  const items = [
    item(0, 'InputData', 'Application|Start', publisher, hostileSource),
    item(100, 'InputData', 'Application|Begin', publisher, hostileSource, { scopeId: 'read' }),
    item(400, 'InputData', 'Application|End', publisher, hostileSource, { scopeId: 'read' }),
    item(800, 'InputData', 'Application|Finish', publisher, hostileSource),
    item(850, 'Transform', 'Application|Start', platform, 'Platform'),
    item(870, 'Transform', 'Application|Begin', platform, 'Platform', { scopeId: 'map' }),
    item(930, 'Transform', 'Application|End', platform, 'Platform', { scopeId: 'map' }),
    item(950, 'Transform', 'Application|Finish', platform, 'Platform'),
    item(1000, 'ConsumeData', 'Application|Start', consumer, 'Shop', { publisherSourceId: publisher }),
    item(1100, 'ConsumeData', 'Application|Begin', consumer, 'Shop', { scopeId: 'import' }),
    item(1300, 'ConsumeData', 'Validation', consumer, 'Shop', { severity: 'Warning', message: 'row 3 <b>rejected</b>' }),
    item(1600, 'ConsumeData', 'Application|End', consumer, 'Shop', { scopeId: 'import' }),
    item(1700, 'ConsumeData', 'Application|Finish', consumer, 'Shop'),
  ];
  await call('POST', '/api/v1/OperatingLogs/batch', items, { expect: 201 });

  await goto('/console/operations');
  await until(() => page.evaluate((operationId) => {
    const list = document.querySelector('#operations');
    return Boolean(list) && (list.textContent.includes(operationId) || Boolean(list.querySelector(`a[href$="/console/operations/${operationId}"]`)));
  }, operationId), `the operation ${operationId} listed in #operations`);

  await goto(`/console/operations/${operationId}`);
  await visible('#operation-gantt', 'the Gantt chart (#operation-gantt)');
  const tag = await page.locator('#operation-gantt').evaluate((element) => element.tagName);
  check(tag === 'IMG', `#operation-gantt should be an <img>, it is a <${tag.toLowerCase()}>`);
  await until(() => page.locator('#operation-gantt').evaluate((img) => img.complete && img.naturalWidth > 0), 'the Gantt chart image loaded (naturalWidth > 0)');
  await until(async () => (await page.locator('#operation-items tbody tr').count()) === items.length,
    `the items table (#operation-items) holding the ${items.length} items`);
  const itemsText = await page.locator('#operation-items').innerText();
  check(itemsText.includes(hostileSource), `the items table does not show the source name ${JSON.stringify(hostileSource)} as text`);
  check(itemsText.includes('row 3 <b>rejected</b>'), 'the items table does not show the message "row 3 <b>rejected</b>" as text');
  await visible('#operation-statistics', 'the statistics per component (#operation-statistics)');
  const statistics = await page.locator('#operation-statistics').innerText();
  check(statistics.includes(hostileSource), `the statistics do not name the publisher ${JSON.stringify(hostileSource)} as text`);
  const text = await page.locator('#operation').innerText();
  check(/end to end:?\s*(1\.7\s*s|1[,.\u202f ]?700\s*ms)/i.test(text), 'the statistics do not show the end-to-end time of 1,700 ms (1.7 s)');
  check((await page.evaluate(() => typeof window.__pwned)) === 'undefined', 'window.__pwned is set on the operation page');
  check((await page.locator('#main script').count()) === 0, 'a <script> element inside #main');
});

// ---------------------------------------------------------------------------------------
// h. Statistics and keys.

step('statistics', 'the statistics page loads', async () => {
  await goto('/console/statistics');
  await until(async () => (await page.locator('#statistics table, #statistics .empty').count()) > 0, '#statistics showing its table (or saying it is empty)');
  await page.waitForLoadState('networkidle');
  const errors = await page.locator('#main .error').allTextContents();
  check(errors.length === 0, `the statistics page shows errors: ${JSON.stringify(errors)}`);
});

step('keys', 'a key created (its secret shown once) and revoked', async () => {
  await goto('/console/keys');
  await until(async () => (await page.locator('#keys *').count()) > 0, '#keys filled');
  await page.waitForLoadState('networkidle');
  const errors = await page.locator('#main .error').allTextContents();
  check(errors.length === 0, `the keys page shows errors: ${JSON.stringify(errors)}`);

  const name = `console-key-${RUN}`;
  const form = page.locator('#keys form').first();
  check(await form.count(), 'no form in #keys to create a key with');
  const nameInput = form.locator('input[name=name]');
  check(await nameInput.count(), 'the key form has no input[name=name]');
  await nameInput.fill(name);
  const permission = form.locator('input[type=checkbox][value="JOBS_READ"]');
  if (await permission.count()) await permission.check();
  await form.locator('[type=submit], button').first().click();
  await visible('#key-created', 'the new key (#key-created)');
  const shown = await page.locator('#key-created').evaluate((element) =>
    [element.innerText, ...[...element.querySelectorAll('input, textarea')].map((input) => input.value)].join('\n'));
  const secret = /\bpl_[A-Za-z0-9_-]{16,}/.exec(shown)?.[0];
  check(secret, `#key-created shows no key (pl_...): ${JSON.stringify(shown.slice(0, 200))}`);
  const works = await fetch(`${BASE}/v1/executions?limit=1`, { headers: { 'X-Api-Key': secret } });
  check(works.status !== 401, `the key #key-created shows is refused (${works.status})`);

  // Shown once: not after a reload.
  await page.reload();
  await until(async () => (await page.locator('#keys').innerText()).includes(name), `the key ${name} listed after a reload`);
  check(!(await page.content()).includes(secret), 'the new key\'s secret is still in the page after a reload');

  // Revoke it from its row.
  const row = page.locator('#keys tr, #keys li, #keys .key-row').filter({ hasText: name }).last();
  check(await row.count(), `no row for ${name} in #keys`);
  const revoke = row.locator('button', { hasText: /revoke/i });
  check(await revoke.count(), `no Revoke button in the row of ${name}`);
  // The page asks to confirm (window.confirm naming the key): that dialog is accepted.
  expectedDialog = { type: 'confirm', pattern: new RegExp(`revoke.*${name}`, 'i'), seen: false };
  await revoke.first().click();
  const revoked = async () => (await fetch(`${BASE}/v1/executions?limit=1`, { headers: { 'X-Api-Key': secret } })).status === 401;
  // Or it asks with a second button in the row.
  await page.waitForTimeout(300);
  const confirm = row.locator('button', { hasText: /confirm|yes/i });
  if (!expectedDialog.seen && !(await revoked()) && (await confirm.count())) await confirm.first().click();
  await until(revoked, `the key ${name} revoked (401) after pressing Revoke`);
  await until(async () => /revoked/i.test(await page.locator('#keys').innerText()), `the keys page showing ${name} revoked`);
});

// ---------------------------------------------------------------------------------------
// i. Sign out.

step('sign-out', 'sign out: back to the sign-in page, the old session refused', async () => {
  await goto('/console/executions');
  const button = page.locator('form.signout button, form.signout [type=submit]');
  check(await button.count(), 'no sign-out button (form.signout button)');
  await button.first().click();
  await page.waitForURL((url) => url.pathname === '/console/login', { timeout: PATIENCE }).catch(() => {});
  check(new URL(page.url()).pathname === '/console/login', `signing out should land on /console/login, it landed on ${page.url()}`);
  const answer = await fetch(`${BASE}/v1/executions?limit=1`, { headers: { Cookie: `${sessionCookie.name}=${sessionCookie.value}` } });
  check(answer.status === 401, `the signed-out session cookie still reads /v1/executions: ${answer.status}`);
  await goto('/console/executions');
  check(new URL(page.url()).pathname === '/console/login', `after signing out, /console/executions should lead to the sign-in page, it shows ${page.url()}`);
});

// ---------------------------------------------------------------------------------------
// The run: each step in order, stopping at the first failure.

const began = Date.now();
let failed = false;
for (const { name, title, run } of steps) {
  problems = [];
  excused = null;
  expectedDialog = null;
  const started = Date.now();
  console.log(`step ${name}: ${title}`);
  const screenshot = path.join(SCREENSHOTS, `${name}.png`);
  try {
    await run();
    // Late errors (a CSP report, a failed fetch) arrive a little after the DOM settles.
    await page.waitForTimeout(250);
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.deepEqual(problems, [], `the page reported problems:\n    ${problems.join('\n    ')}`);
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed = true;
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    const text = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '(no page text)');
    console.error(`FAILED step ${name} (${title}):\n  ${error.message.replaceAll('\n', '\n  ')}`);
    if (problems.length && !error.message.includes('reported problems')) {
      console.error(`  the page also reported:\n    ${problems.join('\n    ')}`);
    }
    console.error(`  page: ${page.url()}\n  screenshot: ${screenshot}`);
    console.error(`  the page's text (start):\n    ${text.slice(0, 1200).replaceAll('\n', '\n    ')}`);
    break;
  }
}
await browser.close();
console.log(`${failed ? 'FAILED' : 'passed'} after ${((Date.now() - began) / 1000).toFixed(1)} s; screenshots in ${SCREENSHOTS}`);
process.exit(failed ? 1 : 0);
