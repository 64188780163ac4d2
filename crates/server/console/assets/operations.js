// The operations pages. On `operations`: recent operations newest first (GET /v1/operations,
// paged by cursor) and a field to open one by id. On `operation`: one operation's Gantt chart,
// its statistics per component, and its items (GET /api/v1/OperatingLogs, paged by offset),
// filtered by scope, severity and system level.

import {
  api, h, replace, timeElement, formatDuration, showError, pageParams, setPageParams, badge,
  localizeTimes, isoFromLocalInput, localInputFromIso, renderCursorPager,
} from './common.js';

const LIST_PAGE_SIZE = 50;
const ITEMS_PAGE_SIZE = 100;

/** `operationScope` values of GET /api/v1/OperatingLogs (docs/api.md), as people read them. */
const SCOPES = [
  { value: '', label: 'All items' },
  { value: 'PublishData', label: 'Publishing (InputData + Transform)' },
  { value: 'PublishDataWithConsumerFeedback', label: 'Publishing and consumers (InputData + Transform + ConsumeData)' },
  { value: 'ConsumerFeedbackOnly', label: 'Consumers only (ConsumeData)' },
  { value: 'AgentStatus', label: 'Agent status' },
  { value: 'Coordination', label: 'Coordination' },
];
const SEVERITIES = [
  { value: '', label: 'Any' },
  { value: 'Warning', label: 'Warning and error' },
  { value: 'Error', label: 'Error' },
];

/** An operation id as typed (hyphens or not, braces or not), or null when it is not a GUID. */
function operationIdFrom(text) {
  const bare = text.trim().replace(/^\{(.*)\}$/, '$1');
  return /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(bare) ? bare : null;
}

function operationHref(operationId) {
  return `/console/operations/${encodeURIComponent(operationId)}`;
}

function loadingText(text) {
  return h('p', { class: 'loading' }, text);
}

// ---- the list of operations ----

function startListPage(root) {
  const params = pageParams();
  const view = { from: params.from || '', to: params.to || '', cursor: params.cursor || '', earlierCursors: [] };
  const messages = h('div', { class: 'messages' });
  const results = h('div', { class: 'results' });
  const pager = h('div', { class: 'pager' });
  let inFlight = null;

  const openInput = h('input', { type: 'text', name: 'operationId', placeholder: 'operation id (GUID)', size: 38, autocomplete: 'off', 'aria-label': 'Operation id' });
  const openForm = h('form', { class: 'toolbar', id: 'operation-open' },
    h('label', { class: 'field' }, h('span', {}, 'Open an operation'), openInput),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Open')));
  openForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const operationId = operationIdFrom(openInput.value);
    if (!operationId) {
      openInput.setAttribute('aria-invalid', 'true');
      replace(messages, h('div', { class: 'error', role: 'alert' }, 'An operation id is a GUID, such as f670127a-ef1b-4926-ab64-387fba251523.'));
      return;
    }
    window.location.assign(operationHref(operationId));
  });

  const from = h('input', { type: 'datetime-local', name: 'from', value: localInputFromIso(view.from) });
  const to = h('input', { type: 'datetime-local', name: 'to', value: localInputFromIso(view.to) });
  const filters = h('form', { class: 'toolbar', role: 'search' },
    h('label', { class: 'field' }, h('span', {}, 'First item recorded from'), from),
    h('label', { class: 'field' }, h('span', {}, 'before'), to),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply')));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    view.from = isoFromLocalInput(from.value);
    view.to = isoFromLocalInput(to.value);
    goToFirstPage();
  });

  function goToFirstPage() {
    view.cursor = '';
    view.earlierCursors = [];
    load();
  }

  async function load() {
    setPageParams({ from: view.from, to: view.to, cursor: view.cursor });
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    replace(messages);
    replace(results, loadingText('Loading operations…'));
    replace(pager);
    try {
      const page = await api('/v1/operations', {
        query: { from: view.from, to: view.to, cursor: view.cursor, limit: LIST_PAGE_SIZE },
        signal: controller.signal,
      });
      renderOperations(page.data);
      renderCursorPager(pager, view, page.nextCursor, load);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(results);
      showError(messages, error);
    }
  }

  function renderOperations(operations) {
    if (operations.length === 0) {
      replace(results, h('div', { class: 'empty' }, 'No operations match.'));
      return;
    }
    replace(results, h('div', { class: 'table-wrap' },
      h('table', { class: 'list', id: 'operations-table' },
        h('thead', {}, h('tr', {},
          h('th', {}, 'Operation'), h('th', {}, 'First item'), h('th', {}, 'Last item'),
          h('th', { class: 'number' }, 'Duration'), h('th', {}, 'Worst severity'),
          h('th', { class: 'number' }, 'Items'), h('th', {}, 'Operation types'))),
        h('tbody', {}, operations.map((operation) => h('tr', { dataset: { operationId: operation.operationId } },
          h('td', { class: 'id' }, h('a', { href: operationHref(operation.operationId) }, operation.operationId)),
          h('td', {}, timeElement(operation.firstAt)),
          h('td', {}, timeElement(operation.lastAt)),
          h('td', { class: 'number' }, formatDuration(operation.durationMs)),
          h('td', {}, operation.worstSeverity ? badge(operation.worstSeverity) : '—'),
          // `complete` false: the operation has more items than the list read.
          h('td', { class: 'number', title: operation.complete === false ? 'more items than the list counts' : null },
            `${Number(operation.items).toLocaleString()}${operation.complete === false ? '+' : ''}`),
          h('td', {}, (operation.operationTypes || []).map((type) => h('span', { class: 'tag' }, type)))))))));
  }

  replace(root, openForm, filters, messages, results, pager);
  load();
}

// ---- one operation ----

/** A component as people read it: its role and its source (by name when an item gave one). */
function componentLabel(key, sourceNames) {
  const role = { publisher: 'Publisher', platform: 'Platform', consumer: 'Consumer' }[key.kind] || key.kind;
  if (key.kind === 'platform') return role;
  if (!key.sourceId) return `${role} (no source id)`;
  return `${role} ${sourceNames.get(key.sourceId) || key.sourceId}`;
}

function startOperationPage(root, operationId) {
  const params = pageParams();
  const view = {
    scope: params.scope || '',
    severity: params.severity || '',
    // Everything of the operation by default, system-level items included.
    system: params.system !== 'false',
    offset: Math.max(0, Number.parseInt(params.offset, 10) || 0),
  };
  /** Source names seen on items, by source id: components are named with them. */
  const sourceNames = new Map();
  let statistics = null;
  let inFlight = null;

  const ganttBox = h('div', { class: 'gantt' });
  const statisticsBox = h('div', {}, loadingText('Loading statistics…'));
  const itemMessages = h('div', { class: 'messages' });
  const items = h('div', { class: 'results' });
  const pager = h('div', { class: 'pager' });

  const gantt = h('img', {
    id: 'operation-gantt',
    src: `/v1/operations/${encodeURIComponent(operationId)}/gantt?format=svg`,
    alt: `Gantt chart of operation ${operationId}: one section per component, one bar per Begin/End pair, milestones for Start, Ack and Finish`,
  });
  gantt.addEventListener('error', () => {
    replace(ganttBox, h('div', { class: 'notice' },
      'No chart could be drawn: the operation may have no items, hold more than a chart draws, or this key may not read operating logs.'));
  });
  ganttBox.append(gantt);

  const scope = h('select', { name: 'scope' }, SCOPES.map((option) => h('option', { value: option.value }, option.label)));
  scope.value = view.scope;
  const severity = h('select', { name: 'severity' }, SEVERITIES.map((option) => h('option', { value: option.value }, option.label)));
  severity.value = view.severity;
  const system = h('input', { type: 'checkbox', name: 'system', checked: view.system });
  const filters = h('form', { class: 'toolbar', role: 'search' },
    h('label', { class: 'field' }, h('span', {}, 'Scope'), scope),
    h('label', { class: 'field' }, h('span', {}, 'Severity'), severity),
    h('label', { class: 'checkbox' }, system, 'System-level items'));
  // Every change of a filter applies at once.
  filters.addEventListener('change', () => {
    view.scope = scope.value;
    view.severity = severity.value;
    view.system = system.checked;
    view.offset = 0;
    loadItems();
  });
  filters.addEventListener('submit', (event) => event.preventDefault());

  async function loadItems() {
    setPageParams({ scope: view.scope, severity: view.severity, system: view.system ? '' : 'false', offset: view.offset || '' });
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    replace(itemMessages);
    replace(items, loadingText('Loading items…'));
    replace(pager);
    try {
      const page = await api('/api/v1/OperatingLogs', {
        query: {
          operationId,
          operationScope: view.scope,
          severityLevel: view.severity,
          includeSystemLevel: view.system ? 'true' : 'false',
          offset: view.offset,
          limit: ITEMS_PAGE_SIZE,
        },
        signal: controller.signal,
      });
      for (const item of page.items) {
        if (item.sourceId && item.source) sourceNames.set(item.sourceId, item.source);
      }
      renderItems(page.items);
      renderItemsPager(page.totalCount, page.items.length);
      if (statistics) renderStatistics(statistics);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(items);
      showError(itemMessages, error);
    }
  }

  function renderItems(list) {
    if (list.length === 0) {
      const filtered = view.scope || view.severity;
      replace(items, h('div', { class: 'empty' }, filtered ? 'No items match these filters.' : 'No items for this operation.'));
      return;
    }
    replace(items, h('div', { class: 'table-wrap' },
      h('table', { class: 'list', id: 'operation-items' },
        h('thead', {}, h('tr', {},
          h('th', {}, 'Time'), h('th', {}, 'Operation type'), h('th', {}, 'Activity'), h('th', {}, 'Severity'),
          h('th', {}, 'Source'), h('th', {}, 'Scope id'), h('th', {}, 'Message'))),
        h('tbody', {}, list.map(itemRow)))));
  }

  function itemRow(item) {
    // The event time is what statistics use: the writer's `utcTimestamp`, else `createdOn`.
    const time = timeElement(item.utcTimestamp || item.createdOn);
    if (item.utcTimestamp) time.title += ` (writer's time; recorded ${item.createdOn})`;
    return h('tr', { class: 'operating-item', dataset: { itemId: item.id } },
      h('td', {}, time),
      h('td', {}, item.operationType, item.systemLevel ? h('div', { class: 'muted' }, item.category) : null),
      h('td', {}, item.activityType || h('span', { class: 'muted' }, '—')),
      h('td', {}, badge(item.severity)),
      h('td', {}, item.source || '', item.sourceId ? h('div', { class: 'muted id' }, item.sourceId) : null),
      h('td', {}, item.scopeId ? h('code', {}, item.scopeId) : ''),
      h('td', { class: 'message' }, item.message || '', itemDetails(item)));
  }

  /** An item's detail lines and custom fields, folded under its message. */
  function itemDetails(item) {
    const lines = item.details || [];
    const fields = item.customFields || [];
    if (lines.length === 0 && fields.length === 0) return null;
    return h('details', { class: 'item-details' },
      h('summary', {}, [lines.length ? `${lines.length} detail line${lines.length === 1 ? '' : 's'}` : '',
        fields.length ? `${fields.length} custom field${fields.length === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ')),
      lines.length ? h('pre', {}, lines.join('\n')) : null,
      fields.length ? h('dl', { class: 'meta' }, fields.map((field) => [h('dt', {}, field.key), h('dd', {}, field.value)])) : null);
  }

  function renderItemsPager(total, shown) {
    const previous = h('button', { type: 'button', disabled: view.offset === 0 }, '‹ Previous');
    const next = h('button', { type: 'button', disabled: view.offset + shown >= total }, 'Next ›');
    previous.addEventListener('click', () => {
      view.offset = Math.max(0, view.offset - ITEMS_PAGE_SIZE);
      loadItems();
    });
    next.addEventListener('click', () => {
      view.offset += ITEMS_PAGE_SIZE;
      loadItems();
    });
    const range = shown ? `Items ${(view.offset + 1).toLocaleString()}–${(view.offset + shown).toLocaleString()} of ${Number(total).toLocaleString()}` : `${Number(total).toLocaleString()} items`;
    replace(pager, previous, next, h('span', { class: 'muted' }, `${range} · in the order recorded`));
  }

  async function loadStatistics() {
    try {
      statistics = await api(`/v1/operations/${encodeURIComponent(operationId)}/statistics`);
      renderStatistics(statistics);
    } catch (error) {
      if (error.status === 404) replace(statisticsBox, h('div', { class: 'empty' }, 'This account has no item of this operation.'));
      else showError(statisticsBox, error);
    }
  }

  function renderStatistics(analysis) {
    const spanText = (milestones) => {
      if (milestones.spanMs === null || milestones.spanMs === undefined) return '—';
      return `${formatDuration(milestones.spanMs)}${milestones.basis === 'handover' ? ' (handover)' : ''}`;
    };
    const validationText = (validation) => {
      const parts = [];
      if (validation.warnings) parts.push(`${validation.warnings} warning${validation.warnings === 1 ? '' : 's'}`);
      if (validation.errors) parts.push(`${validation.errors} error${validation.errors === 1 ? '' : 's'}`);
      return parts.join(', ') || '—';
    };
    const components = analysis.components.length === 0
      ? h('div', { class: 'empty' }, 'No component to measure: the operation has only agent status or coordination items.')
      : h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'operation-statistics' },
        h('thead', {}, h('tr', {},
          h('th', {}, 'Component'), h('th', {}, 'Start'), h('th', {}, 'Finish'), h('th', { class: 'number' }, 'Span'),
          h('th', { class: 'number' }, 'Scoped time'), h('th', {}, 'Begin/End pairs'), h('th', {}, 'Validation'))),
        h('tbody', {}, analysis.components.map((component) => h('tr', {},
          h('td', {}, componentLabel(component.key, sourceNames)),
          h('td', {}, timeElement(component.milestones.start),
            component.milestones.startedWith ? h('span', { class: 'muted' }, ` ${component.milestones.startedWith}`) : null),
          h('td', {}, timeElement(component.milestones.finish)),
          h('td', { class: 'number' }, spanText(component.milestones)),
          h('td', { class: 'number' }, component.scopedMs === null || component.scopedMs === undefined ? '—' : formatDuration(component.scopedMs)),
          h('td', {}, component.pairs.length === 0 ? '—'
            : component.pairs.map((pair) => h('div', {}, h('code', {}, pair.scopeId), ` ${formatDuration(pair.durationMs)}`))),
          h('td', {}, validationText(component.validation)))))));
    const anomalies = analysis.anomalies.length === 0 ? h('p', { class: 'muted' }, 'No anomalies.') : [
      h('h3', {}, `Anomalies (${analysis.anomalies.length})`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'operation-anomalies' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Kind'), h('th', {}, 'Component'), h('th', {}, 'Scope id'), h('th', {}, 'Item'), h('th', {}, 'At'))),
        h('tbody', {}, analysis.anomalies.map((anomaly) => h('tr', {},
          h('td', {}, anomaly.kind),
          h('td', {}, anomaly.component ? componentLabel(anomaly.component, sourceNames) : 'end to end'),
          h('td', {}, anomaly.scopeId ? h('code', {}, anomaly.scopeId) : ''),
          h('td', { class: 'id' }, anomaly.itemId || ''),
          h('td', {}, timeElement(anomaly.at))))))),
    ];
    replace(statisticsBox,
      h('p', {}, h('strong', {}, 'End to end: '),
        analysis.endToEndMs === null || analysis.endToEndMs === undefined ? 'not measurable (no Start/Ack and Finish)' : formatDuration(analysis.endToEndMs),
        analysis.firstEventAt ? h('span', { class: 'muted' }, ' · events from ', timeElement(analysis.firstEventAt), ' to ', timeElement(analysis.lastEventAt)) : null),
      components,
      anomalies);
  }

  replace(root,
    h('p', {}, h('a', { href: '/console/operations' }, '‹ All operations')),
    h('h2', {}, 'Timeline'), ganttBox,
    h('h2', {}, 'Statistics per component'), statisticsBox,
    h('h2', {}, 'Items'), filters, itemMessages, items, pager);
  loadStatistics();
  loadItems();
}

localizeTimes();
if (document.body.dataset.page === 'operation') {
  const main = document.querySelector('main');
  startOperationPage(document.getElementById('operation'), main.dataset.operationId);
} else {
  startListPage(document.getElementById('operations'));
}
