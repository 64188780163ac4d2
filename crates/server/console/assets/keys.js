// The keys page (KEYS_ADMIN): the account's keys, paged by cursor; a form that creates a key
// and shows its secret once; revoking a key after a confirmation.

import {
  api, h, replace, timeElement, showError, permissions as sessionPermissions, localizeTimes,
} from './common.js';

const PERMISSIONS = [
  'EXECUTION_LOGS_READ', 'EXECUTION_LOGS_WRITE', 'EXECUTION_LOGS_DELETE',
  'AUDIT_LOGS_READ', 'AUDIT_LOGS_WRITE',
  'OPERATING_LOGS_READ', 'OPERATING_LOGS_WRITE',
  'JOBS_READ', 'JOBS_EXECUTE',
  'KEYS_ADMIN',
];
const PAGE_SIZE = 50;

const root = document.getElementById('keys');

const list = { cursor: '', earlierCursors: [] };
let inFlight = null;

const created = h('div', { class: 'created-slot' });
const formMessages = h('div', { class: 'messages' });
const listMessages = h('div', { class: 'messages' });
const results = h('div', { class: 'results' });
const pager = h('div', { class: 'pager' });

// ---- creating ----

function buildCreateForm() {
  const name = h('input', { type: 'text', name: 'name', maxlength: 128, placeholder: 'e.g. orders-etl worker', autocomplete: 'off', size: 30 });
  const rateLimit = h('input', { type: 'number', name: 'rateLimit', min: 0, step: 1, placeholder: 'server default', size: 10 });
  const account = h('input', { type: 'text', name: 'account', placeholder: 'this key\'s account', autocomplete: 'off' });
  const agentId = h('input', { type: 'text', name: 'agentId', placeholder: 'GUID', size: 36, autocomplete: 'off' });
  const agentCode = h('input', { type: 'text', name: 'agentCode', maxlength: 128, autocomplete: 'off' });
  const sourceId = h('input', { type: 'text', name: 'sourceId', placeholder: 'GUID', size: 36, autocomplete: 'off' });
  const checkboxes = PERMISSIONS.map((permission) => {
    // A key other than the operator's cannot grant what it lacks; the server refuses it anyway.
    const held = sessionPermissions.has(permission);
    return h('label', { class: 'checkbox', title: held ? null : 'This key does not hold it, so it cannot grant it' },
      h('input', { type: 'checkbox', name: 'permissions', value: permission, disabled: !held }), permission);
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');

  const form = h('form', { id: 'key-form', class: 'panel' },
    h('div', { class: 'form-grid' },
      h('label', { class: 'field' }, h('span', {}, 'Name'), name),
      h('label', { class: 'field', title: 'Requests per minute; 0 for no limit; empty for the server\'s default' },
        h('span', {}, 'Rate limit (per minute)'), rateLimit)),
    h('fieldset', {}, h('legend', {}, 'Permissions (at least one)'), h('div', { class: 'permissions-choice' }, checkboxes)),
    h('details', {},
      h('summary', {}, 'Account and data agent'),
      h('div', { class: 'form-grid' },
        h('label', { class: 'field', title: 'Only the operator key may name another account (which creates it)' }, h('span', {}, 'Account'), account),
        h('label', { class: 'field' }, h('span', {}, 'Agent id'), agentId),
        h('label', { class: 'field' }, h('span', {}, 'Agent code'), agentCode),
        h('label', { class: 'field' }, h('span', {}, 'Agent source id'), sourceId)),
      h('p', { class: 'muted' }, 'A key that stands for a data agent stamps the agent on the operating log items it writes.')),
    formMessages,
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(formMessages);
    const chosen = [...form.querySelectorAll('input[name=permissions]:checked')].map((input) => input.value);
    if (chosen.length === 0) {
      replace(formMessages, h('div', { class: 'error', role: 'alert' }, 'Choose at least one permission.'));
      return;
    }
    if ((agentCode.value.trim() || sourceId.value.trim()) && !agentId.value.trim()) {
      replace(formMessages, h('div', { class: 'error', role: 'alert' }, 'A data agent needs its agent id.'));
      return;
    }
    const body = { permissions: chosen };
    if (name.value.trim()) body.name = name.value.trim();
    if (rateLimit.value !== '') body.rateLimit = Number(rateLimit.value);
    if (account.value.trim()) body.account = account.value.trim();
    if (agentId.value.trim()) {
      body.agent = { agentId: agentId.value.trim() };
      if (agentCode.value.trim()) body.agent.agentCode = agentCode.value.trim();
      if (sourceId.value.trim()) body.agent.sourceId = sourceId.value.trim();
    }
    submit.disabled = true;
    try {
      const key = await api('/v1/keys', { method: 'POST', body });
      form.reset();
      showCreatedKey(key);
      loadKeys();
    } catch (error) {
      showError(formMessages, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The new key's secret, shown this once, with a copy button. */
function showCreatedKey(key) {
  const secret = h('input', { type: 'text', id: 'key-secret', readonly: true, value: key.key, 'aria-label': 'The new key', spellcheck: 'false' });
  const copy = h('button', { type: 'button', class: 'primary', id: 'key-copy' }, 'Copy');
  const copyStatus = h('span', { class: 'muted', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(key.key);
      copyStatus.textContent = 'Copied.';
    } catch {
      // No clipboard access (an insecure origin, a refusal): select it for the user to copy.
      secret.select();
      copyStatus.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  const done = h('button', { type: 'button' }, 'I have stored it');
  done.addEventListener('click', () => replace(created));
  secret.addEventListener('focus', () => secret.select());
  replace(created, h('div', { id: 'key-created', role: 'status' },
    h('strong', {}, 'Key created: '), key.name || h('span', { class: 'muted' }, 'unnamed'), ' ', h('code', {}, key.id),
    h('div', { class: 'secret' }, secret, copy),
    h('p', { class: 'warning' }, 'Copy it now: it will not be shown again. pipelog keeps only its hash; if it is lost, revoke the key and create another.'),
    h('div', { class: 'form-actions' }, done, copyStatus)));
  secret.focus();
}

// ---- listing and revoking ----

async function loadKeys() {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  replace(listMessages);
  replace(results, h('p', { class: 'loading' }, 'Loading keys…'));
  replace(pager);
  try {
    const page = await api('/v1/keys', { query: { cursor: list.cursor, limit: PAGE_SIZE }, signal: controller.signal });
    renderKeys(page.data);
    renderPager(page.nextCursor);
  } catch (error) {
    if (error.name === 'AbortError') return;
    replace(results);
    showError(listMessages, error);
  }
}

function rateLimitText(limit) {
  if (limit === null || limit === undefined) return 'server default';
  if (limit === 0) return 'none';
  return `${limit} / min`;
}

function renderKeys(keys) {
  if (keys.length === 0) {
    replace(results, h('div', { class: 'empty' }, 'No keys.'));
    return;
  }
  replace(results, h('div', { class: 'table-wrap' },
    h('table', { class: 'list', id: 'keys-table' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Name'), h('th', {}, 'Id'), h('th', {}, 'Account'), h('th', {}, 'Permissions'),
        h('th', {}, 'Rate limit'), h('th', {}, 'Created'), h('th', {}, 'Status'), h('th', {}, ''))),
      h('tbody', {}, keys.map(keyRow)))));
}

function keyRow(key) {
  const revoked = Boolean(key.revokedAt);
  let action = null;
  if (!revoked) {
    action = h('button', { type: 'button', class: 'danger key-revoke' }, 'Revoke');
    action.addEventListener('click', () => revoke(key, action));
  }
  return h('tr', { class: revoked ? 'revoked' : null, dataset: { keyId: key.id } },
    h('td', {}, key.name || h('span', { class: 'muted' }, 'unnamed'),
      key.role === 'OPERATOR' ? h('span', {}, ' ', h('span', { class: 'tag' }, 'operator')) : null,
      key.agent ? h('div', { class: 'muted' }, `agent ${key.agent.agentCode || key.agent.agentId}`) : null),
    h('td', { class: 'id' }, key.id),
    h('td', {}, key.account),
    h('td', {}, key.permissions.map((permission) => h('span', { class: 'tag' }, permission))),
    h('td', { class: 'nowrap' }, rateLimitText(key.rateLimit)),
    h('td', {}, timeElement(key.createdAt)),
    h('td', {}, revoked ? h('span', {}, 'revoked ', timeElement(key.revokedAt)) : 'active'),
    h('td', {}, action));
}

async function revoke(key, button) {
  const label = key.name ? `"${key.name}" (${key.id})` : key.id;
  if (!window.confirm(`Revoke the key ${label}? It stops working at once; this cannot be undone.`)) return;
  button.disabled = true;
  try {
    await api(`/v1/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
    loadKeys();
  } catch (error) {
    button.disabled = false;
    showError(listMessages, error);
  }
}

function renderPager(nextCursor) {
  if (!list.cursor && !nextCursor) return;
  const previous = h('button', { type: 'button', disabled: list.earlierCursors.length === 0 }, '‹ Previous');
  const next = h('button', { type: 'button', disabled: !nextCursor }, 'Next page ›');
  previous.addEventListener('click', () => {
    list.cursor = list.earlierCursors.pop();
    loadKeys();
  });
  next.addEventListener('click', () => {
    list.earlierCursors.push(list.cursor);
    list.cursor = nextCursor;
    loadKeys();
  });
  replace(pager, previous, next, h('span', { class: 'muted' }, `Page ${list.earlierCursors.length + 1} · oldest first`));
}

localizeTimes();
replace(root,
  h('h2', {}, 'Create a key'),
  buildCreateForm(),
  created,
  h('h2', {}, 'Keys'),
  listMessages, results, pager);
loadKeys();
