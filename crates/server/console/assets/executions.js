// The executions page: filters (status, job key, queued between), a table of executions
// newest first, paged by the API's cursor. Filters and cursor live in the address bar so the
// view can be linked; the cursors of earlier pages are kept so "Previous" works.

import {
  api, h, replace, timeElement, formatDuration, showError, pageParams, setPageParams, badge,
  localizeTimes, isoFromLocalInput, localInputFromIso, renderCursorPager,
} from './common.js';

const STATUSES = [
  'QUEUED', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'TIMED_OUT',
  'TERMINATED', 'UNKNOWN', 'REMOVED', 'USER_ERROR',
];
const PAGE_SIZE = 50;

const root = document.getElementById('executions');

/** What is asked: the filters, the page's cursor, and the cursors of the pages before it. */
const view = {
  statuses: [],
  jobKey: '',
  from: '',
  to: '',
  cursor: '',
  earlierCursors: [],
};

/** Cells of running executions whose "running for ..." text is kept current. */
let runningCells = [];
let inFlight = null;

const form = buildFilterForm();
const messages = h('div', { class: 'messages' });
const results = h('div', { class: 'results' });
const pager = h('div', { class: 'pager' });

function readAddressBar() {
  const params = pageParams();
  view.statuses = (params.status || '').split(',').filter((status) => STATUSES.includes(status));
  view.jobKey = params.jobKey || '';
  view.from = params.from || '';
  view.to = params.to || '';
  view.cursor = params.cursor || '';
}

function writeAddressBar() {
  setPageParams({
    status: view.statuses.join(','),
    jobKey: view.jobKey,
    from: view.from,
    to: view.to,
    cursor: view.cursor,
  });
}

function buildFilterForm() {
  const status = h('select', { name: 'status', multiple: true, size: 5, title: 'Ctrl-click (⌘-click) to choose several' },
    STATUSES.map((name) => h('option', { value: name }, name)));
  const jobKey = h('input', { type: 'search', name: 'jobKey', placeholder: 'any job', autocomplete: 'off' });
  const from = h('input', { type: 'datetime-local', name: 'from' });
  const to = h('input', { type: 'datetime-local', name: 'to' });
  const clear = h('button', { type: 'button' }, 'Clear');
  const element = h('form', { class: 'toolbar', role: 'search' },
    h('label', { class: 'field' }, h('span', {}, 'Status'), status),
    h('label', { class: 'field' }, h('span', {}, 'Job key'), jobKey),
    h('label', { class: 'field' }, h('span', {}, 'Queued from'), from),
    h('label', { class: 'field' }, h('span', {}, 'Queued before'), to),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply'), clear));

  element.addEventListener('submit', (event) => {
    event.preventDefault();
    view.statuses = [...status.selectedOptions].map((option) => option.value);
    view.jobKey = jobKey.value.trim();
    view.from = isoFromLocalInput(from.value);
    view.to = isoFromLocalInput(to.value);
    goToFirstPage();
  });
  clear.addEventListener('click', () => {
    Object.assign(view, { statuses: [], jobKey: '', from: '', to: '' });
    fillFilterForm(element);
    goToFirstPage();
  });
  return element;
}

/** Shows the current filters in the form. */
function fillFilterForm(element) {
  for (const option of element.elements.status.options) option.selected = view.statuses.includes(option.value);
  element.elements.jobKey.value = view.jobKey;
  element.elements.from.value = localInputFromIso(view.from);
  element.elements.to.value = localInputFromIso(view.to);
}

function goToFirstPage() {
  view.cursor = '';
  view.earlierCursors = [];
  load();
}

async function load() {
  writeAddressBar();
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  replace(messages);
  replace(results, h('p', { class: 'loading' }, 'Loading executions…'));
  replace(pager);
  try {
    const page = await api('/v1/executions', {
      query: {
        status: view.statuses.join(','),
        jobKey: view.jobKey,
        from: view.from,
        to: view.to,
        cursor: view.cursor,
        limit: PAGE_SIZE,
      },
      signal: controller.signal,
    });
    renderTable(page.data);
    renderCursorPager(pager, view, page.nextCursor, load);
  } catch (error) {
    if (error.name === 'AbortError') return;
    replace(results);
    showError(messages, error);
    renderCursorPager(pager, view, null, load);
  }
}

function renderTable(executions) {
  runningCells = [];
  if (executions.length === 0) {
    const filtered = view.statuses.length || view.jobKey || view.from || view.to;
    replace(results, h('div', { class: 'empty' }, filtered ? 'No executions match these filters.' : 'No executions match.'));
    return;
  }
  const rows = executions.map((execution) => {
    const duration = h('td', { class: 'number' });
    if (execution.status === 'RUNNING' && execution.startedAt && !execution.endedAt) {
      runningCells.push({ cell: duration, startedAt: Date.parse(execution.startedAt) });
    } else {
      duration.textContent = endedDuration(execution);
    }
    return h('tr', { dataset: { executionId: execution.id } },
      h('td', {}, badge(execution.status)),
      h('td', {},
        h('a', { href: `/console/executions/${encodeURIComponent(execution.id)}` }, execution.jobKey),
        execution.jobTitle && execution.jobTitle !== execution.jobKey
          ? h('div', { class: 'muted' }, execution.jobTitle) : null),
      h('td', {}, timeElement(execution.queuedAt)),
      h('td', {}, timeElement(execution.startedAt)),
      duration,
      h('td', { class: 'number' }, Number(execution.logCount).toLocaleString()));
  });
  updateRunningCells();
  replace(results, h('div', { class: 'table-wrap' },
    h('table', { class: 'list', id: 'executions-table' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Status'), h('th', {}, 'Job'), h('th', {}, 'Queued'), h('th', {}, 'Started'),
        h('th', { class: 'number' }, 'Duration'), h('th', { class: 'number' }, 'Lines'))),
      h('tbody', {}, rows))));
}

/** Ended − started, or a dash when the execution never started or has not ended. */
function endedDuration(execution) {
  if (!execution.startedAt || !execution.endedAt) return '—';
  return formatDuration(Date.parse(execution.endedAt) - Date.parse(execution.startedAt));
}

function updateRunningCells() {
  const now = Date.now();
  for (const { cell, startedAt } of runningCells) {
    cell.textContent = `running for ${formatDuration(Math.max(0, now - startedAt))}`;
  }
}

localizeTimes();
readAddressBar();
fillFilterForm(form);
replace(root, form, messages, results, pager);
setInterval(updateRunningCells, 1000);
load();
