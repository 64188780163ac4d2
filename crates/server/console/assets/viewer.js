// The execution page: keeps the execution's status current and shows its log in a viewer
// that scrolls both ways over any number of lines, follows a running execution live,
// filters by severity and text, links to single lines and downloads the whole log.
//
// The viewer holds a bounded window of the log in the DOM (at most MAX_ROWS rows). Each
// end of the window (`top`, `bottom`) knows where reading further starts (a cursor, or the
// seq it stopped at) and whether there is nothing further that way. Pages of PAGE_SIZE
// lines are added at the end the reader nears and rows past MAX_ROWS are dropped from the
// other end, so a 1,000,000-line log costs what a 10-line one does.

import {
  api, ApiError, h, replace, timeElement, localizeTimes, showError, pageParams, setPageParams,
} from './common.js';

const main = document.getElementById('main');
const executionId = main.dataset.executionId;

/** The severities, mildest first. */
const SEVERITIES = ['debug', 'info', 'warning', 'error'];
/** Lines asked for per request. */
const PAGE_SIZE = 300;
/** The most rows kept in the DOM. */
const MAX_ROWS = 1500;
/** The seq of an execution's first line (docs/api.md: lines are numbered 0, 1, 2 ...). */
const FIRST_SEQ = 0;
/** Statuses of an execution that has not ended. */
const LIVE_STATUSES = new Set(['QUEUED', 'RUNNING']);
/** How often the execution is read again (status, line count) while it has not ended. */
const POLL_MS = 5000;
/** Delay of the text filter after the last keystroke. */
const FILTER_DELAY_MS = 300;
/** How far from an end of the window (in pixels, at least) the next page is asked for. */
const PREFETCH_PX = 800;

const numbers = new Intl.NumberFormat();
const logPath = `/v1/executions/${encodeURIComponent(executionId)}/logs`;
const FORBIDDEN = 'This key may not read execution logs (it lacks EXECUTION_LOGS_READ).';

const state = {
  status: main.dataset.status || '',
  /** Lines the execution holds: the seq the next line will get, minus FIRST_SEQ. */
  logCount: Number(main.dataset.logCount) || 0,
  severities: new Set(SEVERITIES),
  contains: '',
  /** The Follow toggle is on: the stream is open (or opening). */
  follow: false,
  /** Following, but the reader scrolled away from the bottom: new lines do not move the view. */
  paused: false,
  /** Lines that passed the filters while paused. */
  pending: 0,
  /** The seq in the address bar's `#seq-N`, highlighted when shown. */
  target: null,
};

/**
 * One end of the window. `after`: the seq reading further starts from (null: from the
 * log's start for the bottom, from its end for the top); `cursor`: the API's `nextCursor`
 * (preferred over `after`: with `contains`, a page may hold no line and still go on);
 * `done`: nothing further that way (for the bottom of a running execution: nothing yet);
 * `busy`: a request is under way (one at a time); `failed`: the last one failed.
 * Replacing an edge object makes the request under way for the old one stale.
 */
function freshEdge(after = null) {
  return { after, cursor: null, done: false, busy: false, failed: false, controller: null };
}
let top = freshEdge();
let bottom = freshEdge();

/** The live stream (EventSource) while following. */
let stream = null;
/** The seq of the last line the stream handed over. */
let streamSeq = null;
/** Streamed lines that came while a request at the bottom was under way. */
let held = [];
/** Streamed lines waiting to be added (they are added in batches, not one by one). */
let queue = [];
let flushTimer = 0;
let pollTimer = 0;
let frame = 0;
/** Bumped by every reset of the window: work begun before it is dropped. */
let generation = 0;

// ---------------------------------------------------------------------------------------
// The page

const logSection = document.getElementById('log');

localizeTimes(main);

const severityBoxes = SEVERITIES.map((severity) =>
  h('input', { type: 'checkbox', name: 'severity', value: severity, checked: true }));
const filterInput = h('input', {
  type: 'search', id: 'log-filter', class: 'log-filter', placeholder: 'Filter messages…',
  'aria-label': 'Show the lines whose message contains', maxlength: 1024, autocomplete: 'off',
});
const startButton = h('button', { type: 'button', id: 'log-start', title: 'First line (Home)' }, 'Start');
const endButton = h('button', { type: 'button', id: 'log-end', title: 'Last line (End)' }, 'End');
const followBox = h('input', { type: 'checkbox', id: 'log-follow' });
const streamState = h('span', { class: 'log-stream-state muted', 'aria-live': 'polite' });
const downloadButton = h('button', { type: 'button', id: 'log-download', title: 'The whole log as a text file' }, 'Download');
const downloadState = h('span', { class: 'log-download-state muted', 'aria-live': 'polite' });
const endedNotice = h('span', { id: 'log-ended', class: 'log-ended', hidden: true });
const positionText = h('span', { id: 'log-position', class: 'log-position', 'aria-live': 'off' });
const toolbar = h('div', { class: 'toolbar log-toolbar' },
  h('fieldset', { class: 'log-severities' },
    h('legend', { class: 'log-legend' }, 'Severity'),
    SEVERITIES.map((severity, index) =>
      h('label', { class: 'log-severity-choice' }, severityBoxes[index], severity))),
  filterInput,
  h('span', { class: 'log-buttons' }, startButton, endButton),
  h('label', { class: 'log-follow', title: 'Show new lines as they are written' }, followBox, 'Follow'),
  streamState,
  downloadButton,
  downloadState,
  endedNotice,
  positionText,
);
const errorBox = h('div', { class: 'log-error' });
const topEdge = h('div', { class: 'log-edge log-edge-top' });
const rowsBox = h('div', { class: 'log-rows' });
const bottomEdge = h('div', { class: 'log-edge log-edge-bottom' });
const emptyNote = h('div', { class: 'log-empty', hidden: true });
const pausedButton = h('button', { type: 'button', id: 'log-paused', class: 'log-paused', hidden: true });
// The paused notice floats over the bottom of the view from inside it (a zero-height
// sticky dock), so the wheel over it still scrolls the log.
const view = h('div', {
  // role=log is a live region by default: off, or each page read would be read out.
  id: 'log-view', class: 'log-view', tabindex: 0, role: 'log', 'aria-label': 'execution log', 'aria-live': 'off',
}, topEdge, rowsBox, emptyNote, bottomEdge, h('div', { class: 'log-dock' }, pausedButton));
replace(logSection, toolbar, errorBox, view);

// ---------------------------------------------------------------------------------------
// Small helpers

const isLive = () => LIVE_STATUSES.has(state.status);
const rows = rowsBox.children;
const firstRowSeq = () => (rows.length ? Number(rows[0].dataset.seq) : null);
const lastRowSeq = () => (rows.length ? Number(rows[rows.length - 1].dataset.seq) : null);
/** The larger of seqs, null standing for "none". */
const later = (...seqs) => seqs.reduce((a, b) => (b === null || b === undefined || (a !== null && a >= b) ? a : b), null);
/** The seq of the last line known to be stored. */
const knownLast = () => later(state.logCount > 0 ? FIRST_SEQ + state.logCount - 1 : null, streamSeq);
/** The line number people count (1 for the first line) of a seq. */
const lineNumber = (seq) => seq - FIRST_SEQ + 1;
const filtered = () => state.contains !== '' || state.severities.size < SEVERITIES.length;
const distanceToBottom = () => view.scrollHeight - view.scrollTop - view.clientHeight;
const atBottom = () => distanceToBottom() <= 2;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Whether a line passes the filters (for streamed lines; the API filters the pages). */
function matches(line) {
  if (!state.severities.has(line.severity)) return false;
  return state.contains === '' || String(line.message).toLowerCase().includes(state.contains.toLowerCase());
}

function severityParam() {
  return state.severities.size === SEVERITIES.length ? '' : SEVERITIES.filter((s) => state.severities.has(s)).join(',');
}

/** The first row whose bottom is below `y` (content coordinates), by bisection: rows vary in height. */
function rowAt(y) {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const row = rows[middle];
    if (row.offsetTop + row.offsetHeight <= y) low = middle + 1;
    else high = middle;
  }
  return rows[low] || null;
}

function scrollToBottom() {
  view.scrollTop = view.scrollHeight;
}

/** Puts `row` a third of the way down the view. */
function scrollRowIntoView(row) {
  view.scrollTop = row.offsetTop - Math.max(0, (view.clientHeight - row.offsetHeight) / 3);
}

/** Shows an error above the viewer with a Retry button; a 403 on the log says so plainly. */
function reportError(error, retry, forbidden = FORBIDDEN) {
  showError(errorBox, error instanceof ApiError && error.status === 403 ? new Error(forbidden) : error);
  if (retry) {
    const button = h('button', { type: 'button', class: 'log-retry' }, 'Retry');
    button.addEventListener('click', () => { replace(errorBox); retry(); });
    errorBox.firstChild.append(' ', button);
  }
}

// ---------------------------------------------------------------------------------------
// Rows

function rowFor(line) {
  const message = h('div', { class: line.messageType === 'MARKDOWN' ? 'log-message log-markdown' : 'log-message' });
  // `messageHtml` is the server's sanitised rendering (markdown, or escaped text with ANSI
  // colour spans): the only HTML the console ever parses. Without it, the text as text.
  if (typeof line.messageHtml === 'string') message.innerHTML = line.messageHtml;
  else message.textContent = line.message;
  const time = timeElement(line.timestamp || line.createdAt);
  time.classList.add('log-time');
  const row = h('div', { class: `log-row log-sev-${line.severity}`, id: `seq-${line.seq}`, dataset: { seq: line.seq } },
    h('a', { class: 'log-seq', href: `#seq-${line.seq}`, title: 'Link to this line' }, line.seq),
    time,
    h('span', { class: 'log-severity' }, line.severity),
    h('span', { class: 'log-emitter', title: line.emitterName }, line.emitterName || ''),
    message);
  if (line.seq === state.target) row.classList.add('log-target');
  return row;
}

/**
 * Adds `lines` (oldest first) at one end of the window, drops rows past MAX_ROWS from the
 * other end, and keeps what the reader sees in place. While following (not paused) the
 * view stays pinned to the bottom. Otherwise the first row in sight is the anchor: its
 * distance to the top of the view is measured before the change and restored after it, so
 * rows added above or dropped above do not move the text being read (the browser's own
 * scroll anchoring is off, `overflow-anchor: none`, so the two never fight).
 */
function addRows(lines, where) {
  if (!lines.length) return;
  let pin = state.follow && !state.paused;
  if (pin && rows.length && !atBottom()) {
    // The reader scrolled away an instant ago (the scroll event is still to come).
    pause();
    pin = false;
  }
  const anchor = pin ? null : rowAt(view.scrollTop);
  const offset = anchor ? anchor.offsetTop - view.scrollTop : 0;
  const fragment = document.createDocumentFragment();
  for (const line of lines) fragment.append(rowFor(line));
  if (where === 'top') rowsBox.prepend(fragment);
  else rowsBox.append(fragment);
  const excess = rows.length - MAX_ROWS;
  if (excess > 0) trim(where === 'top' ? 'bottom' : 'top', excess);
  if (pin) scrollToBottom();
  else if (anchor && anchor.isConnected) view.scrollTop = anchor.offsetTop - offset;
}

/** Drops `count` rows from one end; that end then reads on from its new last row. */
function trim(end, count) {
  const range = document.createRange();
  if (end === 'top') {
    range.setStartBefore(rows[0]);
    range.setEndAfter(rows[count - 1]);
  } else {
    range.setStartBefore(rows[rows.length - count]);
    range.setEndAfter(rows[rows.length - 1]);
  }
  range.deleteContents();
  if (end === 'top') {
    top.controller?.abort();
    top = freshEdge(firstRowSeq());
  } else {
    bottom.controller?.abort();
    bottom = freshEdge(lastRowSeq());
    held = [];
    queue = [];
  }
}

/** Empties the window; the caller sets where its ends read from. */
function reset() {
  generation += 1;
  top.controller?.abort();
  bottom.controller?.abort();
  top = freshEdge();
  bottom = freshEdge();
  held = [];
  queue = [];
  rowsBox.replaceChildren();
  replace(errorBox);
}

// ---------------------------------------------------------------------------------------
// Reading pages

/**
 * Reads one page at an edge of the window and adds it: `up` reads newest first from above
 * the top row, `down` oldest first from below the bottom row. Answers false when the
 * window was reset (or that edge trimmed) meanwhile, and then changes nothing.
 */
async function load(direction) {
  const edge = direction === 'up' ? top : bottom;
  const current = () => edge === (direction === 'up' ? top : bottom);
  const lastBefore = knownLast();
  const query = {
    order: direction === 'up' ? 'desc' : 'asc',
    limit: PAGE_SIZE,
    render: 'html',
    severity: severityParam(),
    contains: state.contains,
  };
  if (edge.cursor) query.cursor = edge.cursor;
  else if (edge.after !== null) query.afterSeq = edge.after;
  edge.busy = true;
  edge.controller = new AbortController();
  renderEdges();
  let page;
  try {
    page = await api(logPath, { query, signal: edge.controller.signal });
  } catch (error) {
    if (!current()) return false;
    edge.busy = false;
    edge.failed = true;
    renderEdges();
    throw error;
  }
  if (!current()) return false;
  edge.busy = false;
  edge.cursor = page.nextCursor || null;
  edge.done = !edge.cursor;
  const lines = page.data;
  if (direction === 'up') {
    const first = firstRowSeq();
    addRows(lines.filter((line) => first === null || line.seq < first).reverse(), 'top');
    if (lines.length) edge.after = lines[lines.length - 1].seq;
  } else {
    const last = lastRowSeq();
    addRows(lines.filter((line) => last === null || line.seq > last), 'bottom');
    if (lines.length) edge.after = lines[lines.length - 1].seq;
    if (edge.done) {
      reachedEnd(lastBefore);
      // Paused at the bottom, and the bottom is now the live end: follow again.
      if (state.follow && state.paused && atBottom()) resume();
    } else held = [];
  }
  renderEdges();
  updatePosition();
  return true;
}

/**
 * The bottom of the window reached the end of the log as it was when the request went
 * out: every line up to `lastBefore` is covered, and the streamed lines held meanwhile
 * are added (those the request already had are skipped by seq).
 */
function reachedEnd(lastBefore) {
  bottom.done = true;
  bottom.after = later(bottom.after, lastBefore);
  for (const line of held) {
    bottom.after = later(bottom.after, line.seq);
    if (matches(line)) queue.push(line);
  }
  held = [];
  if (queue.length) scheduleFlush();
}

/** Asks for the next page at each end the reader is near, one request per end at a time. */
function check() {
  const margin = Math.max(view.clientHeight, PREFETCH_PX);
  if (view.scrollTop < margin) extend('up');
  if (distanceToBottom() < margin) extend('down');
  updatePosition();
}

function extend(direction) {
  const edge = direction === 'up' ? top : bottom;
  if (edge.busy || edge.done || edge.failed) return;
  // After each page, look again: a filtered page may hold few lines, or none.
  load(direction).then((fresh) => { if (fresh) check(); }, (error) => {
    reportError(error, () => { edge.failed = false; check(); });
  });
}

function scheduleCheck() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; check(); });
}

/** Opens the log at its first line. */
function showStart() {
  reset();
  top.done = true;
  renderEdges();
  check();
}

/** Opens the log at its last line (and pinned there while following). */
async function showEnd() {
  reset();
  const mine = generation;
  if (state.follow) resume();
  // The page read from the end decides where the bottom is: mark the bottom busy so that
  // streamed lines coming meanwhile are held, then take them.
  const lastBefore = knownLast();
  bottom.busy = true;
  try {
    if (!await load('up') || mine !== generation) return false;
  } catch (error) {
    if (mine === generation) {
      bottom.busy = false;
      bottom.failed = true;
      reportError(error, showEnd);
    }
    return false;
  }
  bottom.busy = false;
  bottom.after = lastRowSeq();
  reachedEnd(lastBefore);
  scrollToBottom();
  renderEdges();
  check();
  return true;
}

/** Opens the log around line `seq`: a page from it downwards and one upwards from it. */
async function showAround(seq) {
  const last = knownLast();
  if (last !== null && seq > last) seq = last;
  reset();
  const mine = generation;
  if (seq <= FIRST_SEQ) top.done = true;
  else {
    top.after = seq;
    bottom.after = seq - 1;
  }
  renderEdges();
  try {
    await Promise.all([load('down'), top.done ? true : load('up')]);
  } catch (error) {
    if (mine === generation) reportError(error, () => showAround(seq));
    return;
  }
  if (mine !== generation) return;
  const row = [...rows].find((candidate) => Number(candidate.dataset.seq) >= seq) || rows[rows.length - 1];
  if (row) scrollRowIntoView(row);
  check();
}

/** Goes to the first line (Start, Home). */
function goStart() {
  if (state.follow) pause();
  if (top.done && rows.length) view.scrollTop = 0;
  else showStart();
}

/** Goes to the last line (End, Home; and "jump to end" while paused). */
async function goEnd() {
  if (bottom.done && !bottom.busy) {
    if (state.follow) resume();
    scrollToBottom();
    return true;
  }
  return showEnd();
}

// ---------------------------------------------------------------------------------------
// Following a running execution

function pause() {
  if (state.paused) return;
  state.paused = true;
  state.pending = 0;
  renderNotices();
}

function resume() {
  state.paused = false;
  state.pending = 0;
  renderNotices();
}

async function setFollow(on) {
  state.follow = on;
  followBox.checked = on;
  if (!on) {
    closeStream();
    state.paused = false;
    renderNotices();
    renderEdges();
    return;
  }
  resume();
  // The stream starts after the last line the window covers, so it must know the end first.
  if (await goEnd() && state.follow && !stream) openStream();
  renderEdges();
}

function openStream() {
  const after = later(bottom.after, lastRowSeq());
  const url = new URL(`${logPath}/stream`, window.location.origin);
  url.searchParams.set('render', 'html');
  if (after !== null) url.searchParams.set('afterSeq', after);
  streamSeq = later(streamSeq, after);
  stream = new EventSource(url);
  // Each line comes as a `log` event (docs/api.md).
  stream.addEventListener('log', receive);
  stream.addEventListener('end', (event) => {
    const data = JSON.parse(event.data);
    flush();
    if (data.lastSeq !== null && data.lastSeq !== undefined) {
      state.logCount = Math.max(state.logCount, lineNumber(data.lastSeq));
    }
    ended(data.status);
    refreshExecution();
  });
  stream.addEventListener('open', () => { streamState.textContent = '● live'; });
  stream.addEventListener('error', () => {
    if (!stream) return;
    if (stream.readyState === EventSource.CLOSED) {
      // The server refused the stream (EventSource says no more): read the execution,
      // which tells a sign-out or a missing permission, and say the tail stopped.
      closeStream();
      state.follow = false;
      followBox.checked = false;
      renderNotices();
      reportError(new Error('The live tail stopped (the server refused it).'), () => setFollow(true));
      refreshExecution();
    } else {
      // EventSource reconnects by itself, resuming after the last line it got.
      streamState.textContent = 'reconnecting…';
    }
  });
  streamState.textContent = 'connecting…';
}

function closeStream() {
  stream?.close();
  stream = null;
  streamState.textContent = '';
}

/** One streamed line: added when the window reaches the live end, else left for reading down. */
function receive(event) {
  const line = JSON.parse(event.data);
  if (streamSeq !== null && line.seq <= streamSeq) return; // sent again after a reconnect
  streamSeq = line.seq;
  state.logCount = Math.max(state.logCount, lineNumber(line.seq));
  const wanted = matches(line);
  if (wanted && state.paused) state.pending += 1;
  if (bottom.busy) {
    // A request at the bottom is under way; it may or may not have this line.
    held.push(line);
  } else if (bottom.done && !(state.paused && rows.length + queue.length >= MAX_ROWS)) {
    bottom.after = line.seq;
    if (wanted) queue.push(line);
  } else {
    // The window stops short of the live end (or, paused, is full): reading down fetches it.
    bottom.done = false;
  }
  scheduleFlush();
}

function scheduleFlush() {
  // A timer, not an animation frame: it still runs (slowly) in a hidden tab, so the queue
  // cannot grow without bound there.
  if (!flushTimer) flushTimer = setTimeout(flush, 40);
}

/** Adds the queued streamed lines in one change of the DOM. */
function flush() {
  clearTimeout(flushTimer);
  flushTimer = 0;
  const last = lastRowSeq();
  let lines = queue.filter((line) => last === null || line.seq > last);
  queue = [];
  // Pinned to the bottom, only the last MAX_ROWS lines could stay in the window anyway.
  if (state.follow && !state.paused && lines.length > MAX_ROWS) lines = lines.slice(-MAX_ROWS);
  addRows(lines, 'bottom');
  renderNotices();
  renderEdges();
  updatePosition();
}

/** The execution ended: no more lines will come. */
function ended(status) {
  setStatus(status);
  closeStream();
  clearInterval(pollTimer);
  state.follow = false;
  state.paused = false;
  followBox.checked = false;
  renderNotices();
  renderEdges();
}

function setStatus(status) {
  state.status = status;
  main.dataset.status = status;
  const badge = document.getElementById('execution-status');
  if (badge) {
    badge.textContent = status;
    badge.className = `badge badge-${status.toLowerCase()}`;
  }
}

/** Reads the execution again: its status, and its line count for the position. */
async function refreshExecution() {
  let execution;
  try {
    execution = await api(`/v1/executions/${encodeURIComponent(executionId)}`);
  } catch (error) {
    reportError(error, refreshExecution, `This key may not read this execution: ${error.message}`);
    return;
  }
  state.logCount = Math.max(state.logCount, execution.logCount || 0);
  if (execution.status !== state.status) {
    if (LIVE_STATUSES.has(execution.status)) setStatus(execution.status);
    else if (!stream) ended(execution.status);
  }
  // Not streamed: lines written since the bottom was reached are read when the reader is there.
  if (!stream && bottom.done && !bottom.busy && later(knownLast(), bottom.after) !== bottom.after) {
    bottom.done = false;
    check();
  }
  renderEdges();
  updatePosition();
}

// ---------------------------------------------------------------------------------------
// What the page shows around the rows

function renderEdges() {
  const empty = !rows.length && !top.busy && !bottom.busy && top.done && bottom.done;
  emptyNote.hidden = !empty;
  if (empty) {
    let text;
    if (filtered() && state.logCount > 0) text = 'No lines match the filters.';
    else if (isLive()) text = state.follow ? 'No lines yet — waiting for them…' : 'No lines yet.';
    else text = 'No lines.';
    emptyNote.textContent = text;
  }
  topEdge.textContent = empty || !rows.length ? ''
    : top.busy ? 'Loading earlier lines…'
      : top.done ? 'Start of the log' : '';
  let below = '';
  if (bottom.busy) below = 'Loading…';
  else if (!empty && bottom.done) {
    if (!isLive()) below = 'End of the log';
    else below = state.follow ? 'Waiting for new lines…' : 'End of the lines so far';
  }
  bottomEdge.textContent = below;
}

function renderNotices() {
  const showPaused = state.follow && state.paused;
  pausedButton.hidden = !showPaused;
  if (showPaused) {
    const count = state.pending === 1 ? '1 new line' : `${numbers.format(state.pending)} new lines`;
    pausedButton.textContent = `Paused: ${count} — jump to end ↓`;
  }
  const live = isLive();
  followBox.disabled = !live;
  endedNotice.hidden = live;
  if (!live) endedNotice.textContent = `ended: ${state.status}`;
}

/** "lines A–B of N": the lines in sight, counted from the first line of the log. */
function updatePosition() {
  const total = numbers.format(state.logCount);
  const first = rowAt(view.scrollTop);
  let text;
  if (first) {
    const last = rowAt(view.scrollTop + view.clientHeight - 1) || rows[rows.length - 1];
    const from = numbers.format(lineNumber(Number(first.dataset.seq)));
    const to = numbers.format(lineNumber(Number(last.dataset.seq)));
    text = `lines ${from}–${to} of ${total}${filtered() ? ' (filtered)' : ''}`;
  } else {
    text = `${total} ${state.logCount === 1 ? 'line' : 'lines'}`;
  }
  setText(positionText, text);
  const count = document.getElementById('execution-lines');
  if (count) setText(count, total);
}

/** Sets an element's text only when it changes (this runs on every scrolled frame). */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** The viewer fills the window's height below what is above it. */
function fitHeight() {
  const offset = view.getBoundingClientRect().top + window.scrollY;
  view.style.height = `${Math.max(240, document.documentElement.clientHeight - offset - 16)}px`;
  if (state.follow && !state.paused) scrollToBottom();
}

// ---------------------------------------------------------------------------------------
// Filters, links, download

function hashSeq() {
  const match = /^#seq-(\d+)$/.exec(window.location.hash);
  return match ? Number(match[1]) : null;
}

function setTarget(seq) {
  for (const row of rowsBox.querySelectorAll('.log-target')) row.classList.remove('log-target');
  state.target = seq;
  if (seq !== null) document.getElementById(`seq-${seq}`)?.classList.add('log-target');
}

function goToSeq(seq) {
  setTarget(seq);
  if (state.follow) pause();
  const row = document.getElementById(`seq-${seq}`);
  if (row && rowsBox.contains(row)) scrollRowIntoView(row);
  else showAround(seq);
}

function saveFilters() {
  setPageParams({ severity: severityParam(), contains: state.contains });
}

/** The filters changed: read the log again with them, staying where the reader was. */
function applyFilters() {
  saveFilters();
  const first = rowAt(view.scrollTop);
  if (state.follow && !state.paused) showEnd();
  else if (first) showAround(Number(first.dataset.seq));
  else if (bottom.done && !top.done) showEnd();
  else showStart();
}

async function download() {
  downloadButton.disabled = true;
  replace(downloadState, 'Starting the export…');
  try {
    const exportPath = `/monitoring/executions/${encodeURIComponent(executionId)}/logs`;
    const started = await api(exportPath, { method: 'POST', query: { fileFormat: 'text' } });
    const size = `${numbers.format(started.size)} ${started.size === 1 ? 'line' : 'lines'}`;
    const begun = Date.now();
    let delay = 250;
    for (;;) {
      const status = await api(`${exportPath}/status`, { method: 'POST', body: started.token });
      if (status.status === 'READY') {
        replace(downloadState, `Ready: ${size} (`, h('a', { href: status.presignedURL }, 'download link'), ')');
        window.location.assign(status.presignedURL);
        break;
      }
      if (status.status !== 'IN_PROGRESS') {
        throw new Error(`The export could not be written (${status.status}); try Download again.`);
      }
      replace(downloadState, `Preparing ${size}… ${Math.round((Date.now() - begun) / 1000)} s`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  } catch (error) {
    replace(downloadState);
    reportError(error, download);
  } finally {
    downloadButton.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Events

severityBoxes.forEach((box) => box.addEventListener('change', () => {
  if (!severityBoxes.some((other) => other.checked)) {
    box.checked = true; // at least one
    return;
  }
  state.severities = new Set(severityBoxes.filter((other) => other.checked).map((other) => other.value));
  applyFilters();
}));

let filterTimer = 0;
filterInput.addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    if (filterInput.value === state.contains) return;
    state.contains = filterInput.value;
    applyFilters();
  }, FILTER_DELAY_MS);
});

startButton.addEventListener('click', goStart);
endButton.addEventListener('click', () => { goEnd(); });
followBox.addEventListener('change', () => { setFollow(followBox.checked); });
pausedButton.addEventListener('click', () => { goEnd(); });
downloadButton.addEventListener('click', download);

view.addEventListener('keydown', (event) => {
  if (event.altKey || event.metaKey) return;
  if (event.key === 'Home') goStart();
  else if (event.key === 'End') goEnd();
  else return;
  event.preventDefault();
});

view.addEventListener('scroll', () => {
  if (state.follow) {
    // Leaving the bottom pauses following; coming back to the live end resumes it.
    if (!atBottom()) pause();
    else if (bottom.done && !bottom.busy) resume();
  }
  scheduleCheck();
}, { passive: true });

// A seq is a link to its line: show it without reloading (a new history entry, so Back
// returns to the previous line), unless it is opened elsewhere (new tab, ...).
view.addEventListener('click', (event) => {
  const link = event.target.closest('a.log-seq');
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  const seq = Number(link.closest('.log-row').dataset.seq);
  history.pushState(null, '', `#seq-${seq}`);
  goToSeq(seq);
});

window.addEventListener('hashchange', () => {
  const seq = hashSeq();
  if (seq === null) setTarget(null);
  else goToSeq(seq);
});

window.addEventListener('resize', () => {
  fitHeight();
  scheduleCheck();
});
// What is above the viewer changes height (the toolbar wraps, an error shows): refit.
const aboveView = new ResizeObserver(fitHeight);
aboveView.observe(toolbar);
aboveView.observe(errorBox);

// ---------------------------------------------------------------------------------------
// Start

{
  const params = pageParams();
  if (params.severity) {
    const asked = new Set(params.severity.split(',').filter((s) => SEVERITIES.includes(s)));
    if (asked.size) state.severities = asked;
  }
  state.contains = params.contains || '';
  filterInput.value = state.contains;
  severityBoxes.forEach((box) => { box.checked = state.severities.has(box.value); });

  fitHeight();
  renderNotices();
  const seq = hashSeq();
  if (seq !== null) {
    setTarget(seq);
    showAround(seq);
  } else if (isLive()) {
    setFollow(true);
  } else {
    showStart();
  }
  if (isLive()) {
    pollTimer = setInterval(() => { if (!document.hidden) refreshExecution(); }, POLL_MS);
  }
  refreshExecution();
}
