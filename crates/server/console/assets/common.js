// What every console page shares: calling the API with the session, building DOM nodes
// (text is always set as text, never parsed as HTML), and showing times and errors.

function meta(name) {
  const element = document.querySelector(`meta[name="${name}"]`);
  return element ? element.content : '';
}

/** The session's CSRF token: sent as `X-CSRF-Token` on every request that changes something. */
export const csrfToken = meta('pipelog-csrf');
/** The account the session's key belongs to. */
export const accountName = meta('pipelog-account');
/** What the session's key may do: `JOBS_READ`, `EXECUTION_LOGS_READ`, ... */
export const permissions = new Set(meta('pipelog-permissions').split(',').filter(Boolean));

/** An answer of the API other than 2xx: `status` and the server's `message`. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * Calls the API with the session cookie. `query` is an object of parameters (null and
 * undefined and '' are left out); `body` is sent as JSON. Answers the parsed JSON (or the
 * text when the answer is not JSON). A 401 sends the browser to the sign-in page.
 */
export async function api(path, { method = 'GET', query, body, signal } = {}) {
  const url = new URL(path, window.location.origin);
  if (query) {
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
    }
  }
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  });
  const type = response.headers.get('content-type') || '';
  const parsed = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (response.status === 401) {
    window.location.assign('/console/login?next=' + encodeURIComponent(window.location.pathname + window.location.search + window.location.hash));
    throw new ApiError(401, 'signed out', parsed);
  }
  if (!response.ok) {
    const message = parsed && typeof parsed === 'object' && parsed.message ? parsed.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, parsed);
  }
  return parsed;
}

/**
 * Builds an element: `h('a', {href: url, class: 'x', dataset: {seq: 3}}, 'text', child)`.
 * Strings and numbers become text nodes; attributes are set as attributes (`on*` names are
 * refused: use addEventListener). Never use innerHTML with user data.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) throw new Error(`h(): event attribute ${name} refused`);
    if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

const localTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3,
  hour12: false,
});

/** An instant in the viewer's time zone. */
export function formatTime(iso) {
  if (!iso) return '';
  return localTime.format(new Date(iso));
}

/** A `<time>` showing `iso` in the viewer's time zone, with UTC on hover. */
export function timeElement(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: `${iso.replace('T', ' ').replace('Z', '')} UTC` }, formatTime(iso));
}

/** A duration in milliseconds, as people read it: `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 01 min`. */
export function formatDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** A box showing what went wrong, put in `container` (replacing what it held). */
export function showError(container, error) {
  const text = error instanceof ApiError && error.status === 403
    ? `This key may not read this: ${error.message}`
    : String(error && error.message ? error.message : error);
  replace(container, h('div', { class: 'error', role: 'alert' }, text));
}

/** The page's query parameters as an object. */
export function pageParams() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}

/** Puts `params` in the address bar (no reload), leaving out empty ones. */
export function setPageParams(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  history.replaceState(null, '', window.location.pathname + (text ? `?${text}` : '') + window.location.hash);
}

/** A status word as a coloured badge (`RUNNING`, `FAILED`, `Error`, ...). */
export function badge(word) {
  return h('span', { class: `badge badge-${String(word).toLowerCase()}` }, word);
}

/** Rewrites the server-rendered `<time datetime>` elements under `root` into the viewer's time zone, with UTC on hover. */
export function localizeTimes(root = document.querySelector('main')) {
  if (!root) return;
  for (const element of root.querySelectorAll('time[datetime]')) {
    element.replaceWith(timeElement(element.getAttribute('datetime')));
  }
}

/** The value of an `<input type=datetime-local>` (the viewer's local time) as a UTC ISO instant; '' when empty or invalid. */
export function isoFromLocalInput(value) {
  if (!value) return '';
  const date = new Date(value); // a date-time without an offset is read as local time
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

/** A UTC ISO instant as the value of an `<input type=datetime-local>` (local time, to the minute); '' when empty or invalid. */
export function localInputFromIso(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return '';
  const two = (number) => String(number).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

/**
 * The pager of a list read by cursor: "First page", "Previous" (back through the cursors of
 * the pages seen before) and "Next page". `view` holds this page's `cursor` ('' for the
 * first) and `earlierCursors`; a click changes them and calls `load()`.
 */
export function renderCursorPager(pager, view, nextCursor, load) {
  const first = h('button', { type: 'button', disabled: !view.cursor }, 'First page');
  const previous = h('button', { type: 'button', disabled: view.earlierCursors.length === 0 }, '‹ Previous');
  const next = h('button', { type: 'button', disabled: !nextCursor }, 'Next page ›');
  first.addEventListener('click', () => {
    view.cursor = '';
    view.earlierCursors = [];
    load();
  });
  previous.addEventListener('click', () => {
    view.cursor = view.earlierCursors.pop();
    load();
  });
  next.addEventListener('click', () => {
    view.earlierCursors.push(view.cursor);
    view.cursor = nextCursor;
    load();
  });
  // A page opened from a link with a cursor has no known earlier pages (only "First page"
  // leads back), so its number is unknown.
  const known = !view.cursor || view.earlierCursors.length > 0;
  replace(pager, first, previous, next,
    known ? h('span', { class: 'muted' }, `Page ${view.earlierCursors.length + 1}`) : null);
}
