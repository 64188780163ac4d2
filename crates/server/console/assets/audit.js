// The audit page: a query builder for the find language (POST /v1/audit_logs/find), the
// query as editable JSON, the matching entries newest first (the API's own order), and the
// account's chain verification.
//
// The builder is a tree of groups (`and` / `or` of conditions and nested groups). Every
// change to it rewrites the JSON in #audit-dsl. The JSON may also be edited by hand: Search
// then sends it as written and, when the builder can show it, the builder is rebuilt from it.

import {
  api, h, replace, timeElement, showError, pageParams, setPageParams,
  localizeTimes, isoFromLocalInput, localInputFromIso,
} from './common.js';

const PAGE_SIZE = 25;

/** Fields offered. The find language has no actor field: pipelog's own entries name the acting key in `details.userId`. */
const FIELDS = [
  { value: 'type', label: 'type' },
  { value: 'entityType', label: 'entityType' },
  { value: 'details.userId', label: 'actor (details.userId)' },
  { value: 'timeGenerated', label: 'timeGenerated' },
  { value: 'id', label: 'id' },
  { value: 'version', label: 'version' },
  { value: 'details', label: 'details.<path>' },
];

/** Details keys pipelog's own entries carry, offered as suggestions for a details path. */
const DETAILS_SUGGESTIONS = [
  'jobKey', 'jobTitle', 'jobId', 'jobInstanceId', 'jobInstanceStatus', 'actionOrigin', 'userId',
  'accountId', 'keyId', 'keyName', 'permissions', 'deletedLines', 'days', 'previousDays',
];

/** The find language's operators, as the builder shows them. */
const OPERATORS = [
  { value: 'eq', label: '=' },
  { value: 'notEq', label: '≠' },
  { value: 'in', label: 'in' },
  { value: 'notIn', label: 'not in' },
  { value: 'search', label: 'contains' },
  { value: 'startsWith', label: 'starts with' },
  { value: 'greater', label: '>' },
  { value: 'greaterOrEqual', label: '≥' },
  { value: 'less', label: '<' },
  { value: 'lessOrEqual', label: '≤' },
  { value: 'exists', label: 'exists' },
];
const OPERATOR_NAMES = new Set(OPERATORS.map((operator) => operator.value));
/** Operators that take text only, never a typed value, and do not apply to timeGenerated. */
const TEXT_OPERATORS = new Set(['search', 'startsWith']);
const LIST_OPERATORS = new Set(['in', 'notIn']);

const root = document.getElementById('audit');

function newCondition() {
  return { kind: 'condition', field: 'type', path: '', operator: 'eq', value: '', caseSensitive: false };
}

function newGroup(connective = 'and', children = [newCondition()]) {
  return { kind: 'group', connective, children };
}

let model = newGroup();
let page = 0;
/** The query last sent (a JSON value, or null for "everything"), kept for paging. */
let sentQuery = null;
/** Whether #audit-dsl was edited by hand since the builder last wrote it. */
let dslEditedByHand = false;
let inFlight = null;

const builder = h('div', { class: 'query-builder' });
const dsl = h('textarea', {
  id: 'audit-dsl', spellcheck: 'false', rows: 8,
  placeholder: 'Empty: finds every entry. Otherwise a find query, e.g. {"type": "eq", "field": "type", "value": "job.end"}',
  'aria-label': 'The find query as JSON',
});
const dslNote = h('span', { class: 'muted' });
const dslError = h('div', { class: 'dsl-error' });
const searchButton = h('button', { type: 'button', id: 'audit-search', class: 'primary' }, 'Search');
const verifyBox = h('div', { id: 'audit-verify' });
const messages = h('div', { class: 'messages' });
const results = h('div', { class: 'results' });
const pager = h('div', { class: 'pager' });

// ---- values: text typed in the builder <-> JSON values ----

/**
 * A value typed in the builder as the find language reads it (as the CLI's compact
 * expressions do): `true`, `false`, `null` and numbers are those values, text in double
 * quotes is always text (`"007"`), anything else is text.
 */
function typedValue(text) {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) return trimmed.slice(1, -1);
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed === 'null') return null;
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(trimmed)) return Number(trimmed);
  return trimmed;
}

/** The inverse of `typedValue`: how a JSON value is written in the builder. */
function valueText(value) {
  if (typeof value !== 'string') return String(value);
  return value !== '' && typedValue(value) === value ? value : `"${value}"`;
}

/** The field name a condition compares. */
function fieldName(condition) {
  return condition.field === 'details' ? `details.${condition.path.trim()}` : condition.field;
}

/** A condition as a find test, or null when it is not complete enough to send. */
function conditionQuery(condition) {
  const field = fieldName(condition);
  if (condition.field === 'details' && !/^details\.[^.]+(\.[^.]+)*$/.test(field)) return null;
  const test = { type: condition.operator, field };
  const isTime = condition.field === 'timeGenerated';
  if (condition.operator === 'exists') {
    test.value = condition.value !== 'false';
  } else if (LIST_OPERATORS.has(condition.operator)) {
    const items = condition.value.split(',').map((item) => item.trim()).filter(Boolean);
    if (items.length === 0) return null;
    test.value = isTime ? items : items.map(typedValue);
  } else if (condition.value.trim() === '') {
    return null;
  } else if (isTime || TEXT_OPERATORS.has(condition.operator)) {
    test.value = condition.value;
  } else {
    test.value = typedValue(condition.value);
  }
  if (condition.caseSensitive) test.caseSensitive = true;
  return test;
}

/** A group as a find node; a group of one collapses to its member; null when empty. */
function groupQuery(group) {
  const queries = group.children
    .map((child) => (child.kind === 'group' ? groupQuery(child) : conditionQuery(child)))
    .filter(Boolean);
  if (queries.length === 0) return null;
  if (queries.length === 1) return queries[0];
  return { type: group.connective, queries };
}

/**
 * The builder's model of a find query, or null when the builder cannot show it (a `not`,
 * an unknown operator or field: the server will say what is wrong with those).
 */
function modelFromQuery(query) {
  if (query === null) return newGroup();
  const node = nodeModel(query);
  if (!node) return null;
  return node.kind === 'group' ? node : newGroup('and', [node]);
}

function nodeModel(node) {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return null;
  if (node.type === 'and' || node.type === 'or') {
    if (!Array.isArray(node.queries) || node.queries.length === 0) return null;
    const children = node.queries.map(nodeModel);
    return children.every(Boolean) ? newGroup(node.type, children) : null;
  }
  if (!OPERATOR_NAMES.has(node.type) || typeof node.field !== 'string') return null;
  const condition = { ...newCondition(), operator: node.type, caseSensitive: node.caseSensitive === true };
  const field = node.field === 'createdAt' ? 'timeGenerated' : node.field;
  if (FIELDS.some((known) => known.value === field && known.value !== 'details')) {
    condition.field = field;
  } else if (field.startsWith('details.')) {
    condition.field = 'details';
    condition.path = field.slice('details.'.length);
  } else {
    return null;
  }
  if (node.type === 'exists') {
    if (typeof node.value !== 'boolean') return null;
    condition.value = String(node.value);
  } else if (LIST_OPERATORS.has(node.type)) {
    // Items are separated by commas in the builder, so an item holding one cannot be shown.
    if (!Array.isArray(node.value) || node.value.some((item) => String(item).includes(','))) return null;
    condition.value = node.value.map(valueText).join(', ');
  } else if (condition.field === 'timeGenerated' || TEXT_OPERATORS.has(node.type)) {
    if (typeof node.value !== 'string') return null;
    condition.value = node.value;
  } else {
    if (node.value !== null && typeof node.value === 'object') return null;
    condition.value = valueText(node.value);
  }
  return condition;
}

// ---- the builder's DOM ----

/** Rebuilds the builder from the model (after a change of structure, field or operator). */
function renderBuilder() {
  replace(builder, renderGroup(model, null));
}

function renderGroup(group, parent) {
  const connective = h('select', { 'aria-label': 'Combine with' },
    h('option', { value: 'and' }, 'all of (and)'),
    h('option', { value: 'or' }, 'any of (or)'));
  connective.value = group.connective;
  connective.addEventListener('change', () => {
    group.connective = connective.value;
    builderChanged();
  });
  const addCondition = h('button', { type: 'button' }, '+ Condition');
  addCondition.addEventListener('click', () => {
    group.children.push(newCondition());
    builderChanged({ structure: true });
  });
  const addGroup = h('button', { type: 'button' }, '+ Group');
  addGroup.addEventListener('click', () => {
    group.children.push(newGroup(group.connective === 'and' ? 'or' : 'and'));
    builderChanged({ structure: true });
  });
  const head = h('div', { class: 'query-group-head' }, h('span', { class: 'muted' }, 'Match'), connective, addCondition, addGroup);
  if (parent) head.append(removeButton(parent, group, 'Remove group'));
  return h('div', { class: 'query-group' }, head,
    group.children.map((child) => (child.kind === 'group' ? renderGroup(child, group) : renderCondition(child, group))));
}

function removeButton(parent, child, label) {
  const button = h('button', { type: 'button', class: 'link', title: label, 'aria-label': label }, '✕');
  button.addEventListener('click', () => {
    parent.children.splice(parent.children.indexOf(child), 1);
    builderChanged({ structure: true });
  });
  return button;
}

function renderCondition(condition, parent) {
  const field = h('select', { 'aria-label': 'Field' }, FIELDS.map((known) => h('option', { value: known.value }, known.label)));
  field.value = condition.field;
  field.addEventListener('change', () => {
    const wasTime = condition.field === 'timeGenerated';
    condition.field = field.value;
    // A time and a text do not convert into each other. Times are mostly bounded (from ...),
    // and text operators do not apply to them.
    if (wasTime !== (condition.field === 'timeGenerated')) condition.value = '';
    if (!wasTime && condition.field === 'timeGenerated' && (condition.operator === 'eq' || TEXT_OPERATORS.has(condition.operator))) {
      condition.operator = 'greaterOrEqual';
    }
    builderChanged({ structure: true });
  });

  const operator = h('select', { 'aria-label': 'Operator' }, OPERATORS.map((known) => h('option', {
    value: known.value,
    disabled: condition.field === 'timeGenerated' && TEXT_OPERATORS.has(known.value),
  }, known.label)));
  operator.value = condition.operator;
  operator.addEventListener('change', () => {
    const wasExists = condition.operator === 'exists';
    condition.operator = operator.value;
    if (condition.operator === 'exists') condition.value = 'true';
    else if (wasExists) condition.value = '';
    builderChanged({ structure: true });
  });

  const caseSensitive = h('label', { class: 'checkbox', title: 'Compare case-sensitively (caseSensitive: true)' },
    h('input', { type: 'checkbox', checked: condition.caseSensitive }), 'Aa');
  caseSensitive.firstChild.addEventListener('change', (event) => {
    condition.caseSensitive = event.target.checked;
    builderChanged();
  });

  return h('div', { class: 'query-row' },
    field,
    condition.field === 'details' ? detailsPathInput(condition) : null,
    operator,
    valueInput(condition),
    condition.operator === 'exists' || condition.field === 'timeGenerated' ? null : caseSensitive,
    removeButton(parent, condition, 'Remove condition'));
}

function detailsPathInput(condition) {
  const input = h('input', {
    type: 'text', class: 'details-path', placeholder: 'path, e.g. jobInstanceStatus',
    list: 'audit-details-paths', 'aria-label': 'Details path', value: condition.path,
  });
  input.addEventListener('input', () => {
    condition.path = input.value;
    builderChanged();
  });
  return h('span', {}, h('span', { class: 'muted' }, 'details.'), input);
}

/** The value's input, fit for the field and operator. */
function valueInput(condition) {
  if (condition.operator === 'exists') {
    const select = h('select', { 'aria-label': 'Value' }, h('option', { value: 'true' }, 'yes'), h('option', { value: 'false' }, 'no'));
    select.value = condition.value === 'false' ? 'false' : 'true';
    select.addEventListener('change', () => {
      condition.value = select.value;
      builderChanged();
    });
    return select;
  }
  if (condition.field === 'timeGenerated' && !LIST_OPERATORS.has(condition.operator)) {
    // The model keeps the ISO instant (exact, as sent); the input shows it in local time.
    const input = h('input', { type: 'datetime-local', 'aria-label': 'Value (local time)', value: localInputFromIso(condition.value) });
    input.addEventListener('input', () => {
      condition.value = isoFromLocalInput(input.value);
      builderChanged();
    });
    return input;
  }
  const list = LIST_OPERATORS.has(condition.operator);
  const input = h('input', {
    type: 'text',
    'aria-label': 'Value',
    value: condition.value,
    placeholder: list ? 'a, b, c' : 'value',
    title: TEXT_OPERATORS.has(condition.operator)
      ? 'Compared as text'
      : 'Numbers, true, false and null are typed values; write "007" in quotes to compare as text',
  });
  input.addEventListener('input', () => {
    condition.value = input.value;
    builderChanged();
  });
  return input;
}

/** The model changed: rebuild the builder if its shape changed, and rewrite the JSON. */
function builderChanged({ structure = false } = {}) {
  if (structure) renderBuilder();
  writeDsl(groupQuery(model));
}

function writeDsl(query) {
  dsl.value = query === null ? '' : JSON.stringify(query, null, 2);
  // Tall enough for the query, within bounds.
  dsl.rows = Math.min(16, Math.max(6, dsl.value.split('\n').length));
  dsl.removeAttribute('aria-invalid');
  replace(dslError);
  builder.classList.remove('stale');
  dslEditedByHand = false;
  dslNote.textContent = '';
}

/** After the JSON was edited by hand: shows it in the builder, or says the builder cannot. */
function syncBuilderFromDsl(query) {
  const rebuilt = modelFromQuery(query);
  if (rebuilt) {
    model = rebuilt;
    renderBuilder();
    builder.classList.remove('stale');
    dslEditedByHand = false;
    dslNote.textContent = '';
  } else {
    // The builder no longer shows what is searched: dimmed until it is changed.
    builder.classList.add('stale');
    dslNote.textContent = 'The builder cannot show this query (it uses not, or a field or operator it does not know); it is sent as written.';
  }
}

/** The JSON in the textarea: `{query}` (null for an empty text), or `{error}` when it does not parse. */
function readDsl() {
  const text = dsl.value.trim();
  if (text === '') return { query: null };
  try {
    return { query: JSON.parse(text) };
  } catch (error) {
    return { error: `The query is not valid JSON: ${error.message}` };
  }
}

// ---- searching ----

function search() {
  const { query, error } = readDsl();
  if (error) {
    dsl.setAttribute('aria-invalid', 'true');
    replace(dslError, h('div', { class: 'error', role: 'alert' }, error));
    return;
  }
  dsl.removeAttribute('aria-invalid');
  replace(dslError);
  if (dslEditedByHand) syncBuilderFromDsl(query);
  sentQuery = query;
  page = 0;
  load();
}

async function load() {
  setPageParams({ q: sentQuery === null ? '' : JSON.stringify(sentQuery), page: page || '' });
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  replace(messages);
  replace(results, h('p', { class: 'loading' }, 'Searching…'));
  replace(pager);
  try {
    const answer = await api('/v1/audit_logs/find', {
      method: 'POST',
      query: { page, size: PAGE_SIZE },
      // No body finds everything.
      body: sentQuery === null ? undefined : sentQuery,
      signal: controller.signal,
    });
    renderResults(answer.data);
    renderPager(answer.hasMore);
  } catch (error) {
    if (error.name === 'AbortError') return;
    replace(results);
    showError(messages, error);
  }
}

/** The actor of an entry: the acting key that pipelog's own entries name in `details.userId`. */
function actorOf(entry) {
  return entry.details && entry.details.userId !== undefined ? String(entry.details.userId) : '';
}

/** The id of the entity an entry is about, from the details keys the known entry types use. */
function entityIdOf(entry) {
  const details = entry.details || {};
  for (const key of ['jobInstanceId', 'keyId', 'itemId', 'entityId', 'id']) {
    if (typeof details[key] === 'string' || typeof details[key] === 'number') return { key, id: String(details[key]) };
  }
  return null;
}

function entityCell(entry) {
  const entity = entityIdOf(entry);
  const cell = h('td', {}, h('span', {}, entry.entityType));
  if (!entity) return cell;
  const idText = entity.key === 'jobInstanceId'
    ? h('a', { href: `/console/executions/${encodeURIComponent(entity.id)}` }, entity.id)
    : h('code', {}, entity.id);
  cell.append(' ', h('span', { class: 'muted', title: `details.${entity.key}` }, idText));
  return cell;
}

function renderResults(entries) {
  if (entries.length === 0) {
    replace(results, h('div', { class: 'empty' }, page === 0 ? 'No audit entries match.' : 'No more entries.'));
    return;
  }
  const body = h('tbody', {});
  for (const entry of entries) {
    const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' }, 'details');
    const row = h('tr', { class: 'audit-row', dataset: { auditId: entry.id } },
      h('td', {}, timeElement(entry.timeGenerated)),
      h('td', {}, h('code', {}, entry.type)),
      h('td', {}, actorOf(entry) ? h('code', {}, actorOf(entry)) : h('span', { class: 'muted' }, '—')),
      entityCell(entry),
      h('td', {}, toggle));
    // The full entry, as preformatted text.
    const expanded = h('tr', { class: 'expanded', hidden: true },
      h('td', { colspan: 5 }, h('pre', {}, JSON.stringify(entry, null, 2))));
    toggle.addEventListener('click', () => {
      expanded.hidden = !expanded.hidden;
      toggle.setAttribute('aria-expanded', String(!expanded.hidden));
      toggle.textContent = expanded.hidden ? 'details' : 'hide';
    });
    body.append(row, expanded);
  }
  replace(results, h('div', { class: 'table-wrap' },
    h('table', { class: 'list', id: 'audit-results' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Time'), h('th', {}, 'Type'), h('th', {}, 'Actor'), h('th', {}, 'Entity'), h('th', {}, ''))),
      body)));
}

function renderPager(hasMore) {
  const previous = h('button', { type: 'button', disabled: page === 0 }, '‹ Newer');
  const next = h('button', { type: 'button', disabled: !hasMore }, 'Older ›');
  previous.addEventListener('click', () => {
    page -= 1;
    load();
  });
  next.addEventListener('click', () => {
    page += 1;
    load();
  });
  replace(pager, previous, next, h('span', { class: 'muted' }, `Page ${page + 1} · newest first`));
}

// ---- chain verification ----

async function verifyChain() {
  replace(verifyBox, h('p', { class: 'loading' }, 'Verifying the audit chain…'));
  try {
    // The digest states the chain's head; it is shown beside the check when it can be had.
    const [verification, digest] = await Promise.all([
      api('/v1/audit_logs/verify'),
      api('/v1/audit_logs/digest').catch(() => null),
    ]);
    renderVerification(verification, digest);
  } catch (error) {
    showError(verifyBox, error);
  }
}

function renderVerification(verification, digest) {
  const again = h('button', { type: 'button', class: 'link' }, 'Verify again');
  again.addEventListener('click', verifyChain);
  const count = Number(verification.checked).toLocaleString();
  if (verification.valid) {
    replace(verifyBox, h('div', { class: 'success', role: 'status' },
      h('strong', {}, 'Chain verified. '),
      `${count} entries checked, every hash right. `,
      digest && digest.headHash
        ? h('span', {}, `Head after ${Number(digest.entries).toLocaleString()} entries: `, h('span', { class: 'hash' }, digest.headHash), '. ')
        : null,
      again));
    return;
  }
  replace(verifyBox, h('div', { class: 'error', role: 'alert' },
    h('strong', {}, 'Chain broken. '),
    `${count} entries checked right`,
    verification.firstBrokenId
      ? h('span', {}, '; the first wrong one is ', h('code', {}, verification.firstBrokenId),
        verification.firstBrokenSeq !== undefined ? ` (seq ${verification.firstBrokenSeq})` : '')
      : null,
    verification.reason ? `: ${verification.reason}. ` : '. ',
    again));
}

// ---- the page ----

function start() {
  localizeTimes();
  const params = pageParams();
  page = Math.max(0, Number.parseInt(params.page, 10) || 0);
  renderBuilder();
  // A linked query: shown as JSON, and in the builder when it can show it.
  if (params.q) {
    dsl.value = params.q;
    const { query, error } = readDsl();
    if (error) {
      replace(dslError, h('div', { class: 'error', role: 'alert' }, error));
    } else {
      sentQuery = query;
      writeDsl(query);
      syncBuilderFromDsl(query);
    }
  }
  dsl.addEventListener('input', () => {
    dslEditedByHand = true;
    dslNote.textContent = 'Edited by hand: Search sends this JSON; a change in the builder replaces it.';
  });
  searchButton.addEventListener('click', search);
  // Enter in a field of the builder searches.
  builder.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.tagName === 'INPUT') search();
  });
  // Ctrl+Enter in the JSON searches too.
  dsl.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) search();
  });

  replace(root,
    verifyBox,
    h('section', { class: 'panel' },
      h('datalist', { id: 'audit-details-paths' }, DETAILS_SUGGESTIONS.map((key) => h('option', { value: key }))),
      builder,
      h('div', { class: 'dsl-head' }, h('label', { for: 'audit-dsl' }, h('strong', {}, 'Find query (JSON)')), dslNote),
      dsl,
      dslError,
      h('div', { class: 'form-actions' }, searchButton)),
    messages, results, pager);
  load();
  verifyChain();
}

start();
