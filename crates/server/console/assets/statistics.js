// The statistics page: operating-log durations over a period. The period is split into
// buckets; GET /v1/operations/statistics is asked for each bucket (a few at a time) and the
// median (p50) and p95 of each component are drawn over time, one SVG chart per component.
// Below, a table of the whole period's figures (one more call over the whole period).

import {
  api, h, replace, formatDuration, showError, pageParams, setPageParams,
  localizeTimes, isoFromLocalInput, localInputFromIso,
} from './common.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Preset periods: their length and how many buckets they are split into. */
const PERIODS = {
  hour: { label: 'Last hour', length: HOUR, buckets: 12 },
  day: { label: 'Last 24 hours', length: DAY, buckets: 24 },
  week: { label: 'Last 7 days', length: 7 * DAY, buckets: 14 },
  custom: { label: 'From … to …' },
};
/** Buckets of a custom period: this many, unless that would make them shorter than a second. */
const CUSTOM_BUCKETS = 24;
/** Requests in flight at once. */
const CONCURRENCY = 4;

const OPERATION_TYPES = [
  { value: '', label: 'All components' },
  { value: 'InputData', label: 'Publishers (InputData)' },
  { value: 'Transform', label: 'Platform (Transform)' },
  { value: 'ConsumeData', label: 'Consumers (ConsumeData)' },
];
const MEASURES = [
  { value: 'span', label: 'Span (Start/Ack → Finish)' },
  { value: 'scoped', label: 'Scoped time (Begin/End pairs)' },
];

// The chart's drawing box, in SVG user units (the SVG scales to its container's width).
const WIDTH = 560;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 14, bottom: 30, left: 62 };
const SVG_NS = 'http://www.w3.org/2000/svg';

const root = document.getElementById('statistics');

const view = {
  period: 'day',
  from: '',
  to: '',
  operationType: '',
  sourceId: '',
  measure: 'span',
};
let inFlight = null;

const form = buildForm();
const messages = h('div', { class: 'messages' });
const progress = h('p', { class: 'progress', role: 'status' });
const chartsSection = h('section', { class: 'charts-section' });
const tableSection = h('section', { class: 'table-section' });

/** An SVG element, built like `h()` builds HTML ones: strings become text nodes. */
function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// ---- the form and the address bar ----

function readAddressBar() {
  const params = pageParams();
  view.period = PERIODS[params.period] ? params.period : 'day';
  view.from = params.from || '';
  view.to = params.to || '';
  view.operationType = OPERATION_TYPES.some((type) => type.value === params.operationType) ? params.operationType : '';
  view.sourceId = params.sourceId || '';
  view.measure = MEASURES.some((measure) => measure.value === params.measure) ? params.measure : 'span';
}

function buildForm() {
  const period = h('select', { name: 'period' }, Object.entries(PERIODS).map(([value, preset]) => h('option', { value }, preset.label)));
  const from = h('input', { type: 'datetime-local', name: 'from' });
  const to = h('input', { type: 'datetime-local', name: 'to' });
  const customFields = h('span', { class: 'custom-period' },
    h('label', { class: 'field' }, h('span', {}, 'From'), from),
    h('label', { class: 'field' }, h('span', {}, 'To'), to));
  const operationType = h('select', { name: 'operationType' }, OPERATION_TYPES.map((type) => h('option', { value: type.value }, type.label)));
  const sourceId = h('input', { type: 'text', name: 'sourceId', placeholder: 'any source (GUID)', size: 36, autocomplete: 'off' });
  const measure = h('select', { name: 'measure' }, MEASURES.map((option) => h('option', { value: option.value }, option.label)));
  const element = h('form', { class: 'toolbar' },
    h('label', { class: 'field' }, h('span', {}, 'Period'), period),
    customFields,
    h('label', { class: 'field' }, h('span', {}, 'Components'), operationType),
    h('label', { class: 'field' }, h('span', {}, 'Source id'), sourceId),
    h('label', { class: 'field' }, h('span', {}, 'Measure'), measure),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Show')));
  period.addEventListener('change', () => {
    customFields.hidden = period.value !== 'custom';
  });
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    view.period = period.value;
    view.from = isoFromLocalInput(from.value);
    view.to = isoFromLocalInput(to.value);
    view.operationType = operationType.value;
    view.sourceId = sourceId.value.trim();
    view.measure = measure.value;
    load();
  });
  return element;
}

function fillForm() {
  const fields = form.elements;
  fields.period.value = view.period;
  fields.from.value = localInputFromIso(view.from);
  fields.to.value = localInputFromIso(view.to);
  fields.operationType.value = view.operationType;
  fields.sourceId.value = view.sourceId;
  fields.measure.value = view.measure;
  fields.from.closest('.custom-period').hidden = view.period !== 'custom';
}

// ---- periods and buckets ----

/**
 * The period asked for, as `{from, to, buckets: [{from, to}]}` in epoch milliseconds, or
 * `{error}`. Presets end now, their buckets aligned on whole bucket lengths (so that the
 * times on the axis are round); the last bucket is the one still filling.
 */
function period() {
  if (view.period === 'custom') {
    const from = Date.parse(view.from);
    const to = Date.parse(view.to);
    if (Number.isNaN(from) || Number.isNaN(to)) return { error: 'Choose both ends of the period.' };
    if (to <= from) return { error: 'The end of the period must be after its start.' };
    const count = Math.max(1, Math.min(CUSTOM_BUCKETS, Math.floor((to - from) / SECOND)));
    return split(from, to, count);
  }
  const preset = PERIODS[view.period];
  const size = preset.length / preset.buckets;
  const to = Math.ceil(Date.now() / size) * size;
  return split(to - preset.length, to, preset.buckets);
}

function split(from, to, count) {
  const size = (to - from) / count;
  const buckets = Array.from({ length: count }, (_, index) => ({
    from: Math.round(from + index * size),
    to: Math.round(from + (index + 1) * size),
  }));
  return { from, to, buckets };
}

/**
 * Statistics of `[from, to)`. The API's bounds are both inclusive, so a bucket ends a
 * millisecond before the next begins: no operation is counted in two buckets.
 */
function fetchStatistics(from, to, signal) {
  return api('/v1/operations/statistics', {
    query: {
      from: new Date(from).toISOString(),
      to: new Date(Math.max(from, to - 1)).toISOString(),
      operationType: view.operationType,
      sourceId: view.sourceId,
    },
    signal,
  });
}

/** Runs `task` over `items`, at most `limit` at a time; answers the results in order. */
async function mapLimited(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---- loading ----

async function load() {
  setPageParams({
    period: view.period,
    from: view.period === 'custom' ? view.from : '',
    to: view.period === 'custom' ? view.to : '',
    operationType: view.operationType,
    sourceId: view.sourceId,
    measure: view.measure === 'span' ? '' : view.measure,
  });
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  replace(messages);
  replace(chartsSection);
  replace(tableSection);
  const chosen = period();
  if (chosen.error) {
    replace(messages, h('div', { class: 'error', role: 'alert' }, chosen.error));
    progress.textContent = '';
    return;
  }
  progress.textContent = 'Loading the period…';
  try {
    const whole = await fetchStatistics(chosen.from, chosen.to, controller.signal);
    renderTable(whole);
    if (whole.operations === 0) {
      progress.textContent = '';
      replace(chartsSection, h('div', { class: 'empty' }, 'No operations in this period.'));
      return;
    }
    let done = 0;
    progress.textContent = `Loading 0 of ${chosen.buckets.length} intervals…`;
    const perBucket = await mapLimited(chosen.buckets, CONCURRENCY, async (bucket) => {
      const answer = await fetchStatistics(bucket.from, bucket.to, controller.signal);
      done += 1;
      progress.textContent = `Loading ${done} of ${chosen.buckets.length} intervals…`;
      return answer;
    });
    progress.textContent = '';
    renderCharts(chosen, perBucket);
  } catch (error) {
    if (error.name === 'AbortError') return;
    controller.abort();
    progress.textContent = '';
    showError(messages, error);
  }
}

// ---- series ----

/** A component's key as a string, to match it across buckets. */
function componentId(key) {
  return `${key.kind}:${key.sourceId || ''}`;
}

function componentLabel(key) {
  const role = { publisher: 'Publisher', platform: 'Platform', consumer: 'Consumer' }[key.kind] || key.kind;
  if (key.kind === 'platform') return role;
  return key.sourceId ? `${role} ${key.sourceId}` : `${role} (no source id)`;
}

/**
 * The series to draw: end to end, then each component seen in any bucket, each with one
 * summary (or null) per bucket, of the chosen measure.
 */
function seriesOf(perBucket) {
  const series = [{ id: 'end-to-end', label: 'End to end', summaries: perBucket.map((answer) => answer.endToEnd || null) }];
  const byId = new Map();
  perBucket.forEach((answer, index) => {
    for (const component of answer.components) {
      const id = componentId(component.key);
      if (!byId.has(id)) {
        byId.set(id, { id, key: component.key, label: componentLabel(component.key), summaries: perBucket.map(() => null) });
      }
      byId.get(id).summaries[index] = component[view.measure] || null;
    }
  });
  // In the API's component order: publishers, the platform, consumers, each by source id.
  const order = { publisher: 0, platform: 1, consumer: 2 };
  const components = [...byId.values()].sort((a, b) => (order[a.key.kind] - order[b.key.kind]) || (a.key.sourceId || '').localeCompare(b.key.sourceId || ''));
  return series.concat(components);
}

// ---- charts ----

/** Steps for the duration axis, in milliseconds: round figures people read at a glance. */
const DURATION_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
];

/** The smallest round step giving at most 5 ticks up to `max`. */
function durationStep(max) {
  return DURATION_STEPS.find((step) => max / step <= 5) || Math.ceil(max / 5 / DAY) * DAY;
}

/** Times on the axis: with the date over more than a day, with seconds over a short period. */
function timeFormat(chosen) {
  const length = chosen.to - chosen.from;
  if (length > DAY) return new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
  if (length <= 15 * MINUTE) return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
}

function renderCharts(chosen, perBucket) {
  const all = seriesOf(perBucket).filter((series) => series.summaries.some(Boolean));
  if (all.length === 0) {
    replace(chartsSection, h('div', { class: 'empty' }, `No ${view.measure === 'span' ? 'span' : 'scoped time'} was measured in this period.`));
    return;
  }
  const legend = h('div', { class: 'legend' },
    h('span', {}, h('span', { class: 'swatch swatch-p50' }), 'median (p50)'),
    h('span', {}, h('span', { class: 'swatch swatch-p95' }), 'p95'),
    h('span', { class: 'muted' }, `${MEASURES.find((measure) => measure.value === view.measure).label}, per ${formatDuration(chosen.buckets[0].to - chosen.buckets[0].from)} interval`));
  replace(chartsSection, legend,
    h('div', { class: 'charts' }, all.map((series) => chart(series, chosen, perBucket))));
}

function chart(series, chosen, perBucket) {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (time) => MARGIN.left + ((time - chosen.from) / (chosen.to - chosen.from)) * plotWidth;
  const max = Math.max(1, ...series.summaries.filter(Boolean).map((summary) => summary.p95Ms));
  const step = durationStep(max);
  const top = Math.ceil(max / step) * step;
  const y = (ms) => MARGIN.top + plotHeight - (ms / top) * plotHeight;
  const format = timeFormat(chosen);

  const yTicks = [];
  for (let value = 0; value <= top; value += step) yTicks.push(value);
  // Times at bucket boundaries (the period's end included), about six of them.
  const every = Math.ceil(chosen.buckets.length / 6);
  const xTicks = chosen.buckets.map((bucket) => bucket.from).concat(chosen.to).filter((_, index) => index % every === 0);

  const grid = svg('g', { class: 'grid' }, yTicks.map((value) => svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) })));
  const yAxis = svg('g', { class: 'axis axis-y' },
    svg('line', { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + plotHeight }),
    yTicks.map((value) => svg('text', { x: MARGIN.left - 6, y: y(value) + 3, 'text-anchor': 'end' }, value === 0 ? '0' : formatDuration(value))));
  const xAxis = svg('g', { class: 'axis axis-x' },
    svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: MARGIN.top + plotHeight, y2: MARGIN.top + plotHeight }),
    xTicks.map((time) => [
      svg('line', { x1: x(time), x2: x(time), y1: MARGIN.top + plotHeight, y2: MARGIN.top + plotHeight + 4 }),
      svg('text', { x: x(time), y: HEIGHT - 10, 'text-anchor': time === chosen.to ? 'end' : 'middle' }, format.format(new Date(time))),
    ]));

  // Each figure's points at the middle of their bucket; a bucket without a value breaks the line.
  const points = series.summaries.map((summary, index) => {
    const bucket = chosen.buckets[index];
    return summary && { x: x((bucket.from + bucket.to) / 2), summary, bucket, operations: perBucket[index].operations };
  });
  const lines = [['p50', (summary) => summary.medianMs], ['p95', (summary) => summary.p95Ms]].map(([name, value]) => svg('g', {},
    svg('path', { class: `series series-${name}`, d: linePath(points, (point) => y(value(point.summary))) }),
    points.filter(Boolean).map((point) => svg('circle', { class: `point-${name}`, cx: point.x, cy: y(value(point.summary)), r: 2.5 },
      svg('title', {}, pointTitle(point, format))))));

  const svgElement = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `${series.label}: median and p95 over time`,
  }, grid, yAxis, xAxis, lines);
  const measured = series.summaries.filter(Boolean).reduce((sum, summary) => sum + summary.count, 0);
  return h('figure', { class: 'chart', dataset: { component: series.id } },
    h('h3', {}, series.label),
    svgElement,
    h('figcaption', { class: 'muted' }, `${measured.toLocaleString()} values measured`));
}

/** An SVG path through the points, lifting the pen over missing ones. */
function linePath(points, yOf) {
  let path = '';
  let drawing = false;
  for (const point of points) {
    if (!point) {
      drawing = false;
      continue;
    }
    path += `${drawing ? 'L' : 'M'}${point.x.toFixed(1)},${yOf(point).toFixed(1)}`;
    drawing = true;
  }
  return path;
}

function pointTitle(point, format) {
  const { summary, bucket } = point;
  return `${format.format(new Date(bucket.from))} – ${format.format(new Date(bucket.to))}: `
    + `median ${formatDuration(summary.medianMs)}, p95 ${formatDuration(summary.p95Ms)}, `
    + `${summary.count} value${summary.count === 1 ? '' : 's'} of ${point.operations} operation${point.operations === 1 ? '' : 's'}`;
}

// ---- the whole period's table ----

function summaryCells(summary) {
  if (!summary) return [h('td', { class: 'number' }, '0'), h('td', { class: 'number muted', colspan: 5 }, 'not measured')];
  return [
    h('td', { class: 'number' }, summary.count.toLocaleString()),
    h('td', { class: 'number' }, formatDuration(summary.meanMs)),
    h('td', { class: 'number' }, formatDuration(summary.medianMs)),
    h('td', { class: 'number' }, formatDuration(summary.p95Ms)),
    h('td', { class: 'number' }, formatDuration(summary.minMs)),
    h('td', { class: 'number' }, formatDuration(summary.maxMs)),
  ];
}

function anomalyTotal(counts) {
  return Object.values(counts || {}).reduce((sum, count) => sum + count, 0);
}

function renderTable(whole) {
  const measure = MEASURES.find((option) => option.value === view.measure);
  const rows = [h('tr', { class: 'end-to-end' },
    h('td', {}, h('strong', {}, 'End to end')),
    h('td', { class: 'number' }, whole.operations.toLocaleString()),
    summaryCells(whole.endToEnd),
    h('td', {}, ''),
    h('td', { class: 'number' }, ''))];
  for (const component of whole.components) {
    const validation = [
      component.validation.warnings ? `${component.validation.warnings} warn.` : '',
      component.validation.errors ? `${component.validation.errors} err.` : '',
    ].filter(Boolean).join(', ');
    const anomalies = anomalyTotal(component.anomalyCounts);
    rows.push(h('tr', { dataset: { component: componentId(component.key) } },
      h('td', {}, componentLabel(component.key),
        component.handoverSpans && view.measure === 'span' ? h('div', { class: 'muted' }, `${component.handoverSpans} handover span${component.handoverSpans === 1 ? '' : 's'}`) : null),
      h('td', { class: 'number' }, component.operations.toLocaleString()),
      summaryCells(component[view.measure]),
      h('td', {}, validation || '—'),
      h('td', { class: 'number', title: Object.entries(component.anomalyCounts || {}).map(([kind, count]) => `${kind}: ${count}`).join('\n') || null }, anomalies ? anomalies.toLocaleString() : '—')));
  }
  const periodAnomalies = Object.entries(whole.anomalyCounts || {});
  replace(tableSection,
    h('h2', {}, 'The whole period'),
    h('p', { class: 'muted' }, `${whole.operations.toLocaleString()} operation${whole.operations === 1 ? '' : 's'} whose first item was recorded in the period. Per component: ${measure.label.toLowerCase()}.`),
    h('div', { class: 'table-wrap' }, h('table', { class: 'list', id: 'statistics-table' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Component'), h('th', { class: 'number' }, 'Operations'), h('th', { class: 'number' }, 'Values'),
        h('th', { class: 'number' }, 'Mean'), h('th', { class: 'number' }, 'Median'), h('th', { class: 'number' }, 'p95'),
        h('th', { class: 'number' }, 'Min'), h('th', { class: 'number' }, 'Max'), h('th', {}, 'Validation'),
        h('th', { class: 'number' }, 'Anomalies'))),
      h('tbody', {}, rows))),
    periodAnomalies.length
      ? h('p', {}, h('strong', {}, 'Anomalies: '), periodAnomalies.map(([kind, count]) => `${kind} ${count}`).join(', '))
      : null);
}

localizeTimes();
readAddressBar();
fillForm();
replace(root, form, messages, progress, chartsSection, tableSection);
load();
