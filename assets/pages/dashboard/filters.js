// What the dashboard shows, kept in the address's query string so that a
// link reproduces the view: the range (a preset, or `custom` with local
// dates `from` and `to`, both included), the interval, the split, the
// studio, tool and model filters, and for admins the account or platform.
import { localDate, parseLocalDate } from './format.js';

export const PRESETS = [
  { id: '7d', label: '7 days', days: 7 },
  { id: '30d', label: '30 days', days: 30 },
  { id: '90d', label: '90 days', days: 90 },
  { id: '12m', label: '12 months', months: 12 },
];
export const INTERVALS = [
  { id: 'DAY', label: 'Day' },
  { id: 'WEEK', label: 'Week' },
  { id: 'MONTH', label: 'Month' },
];
export const SPLITS = [
  { id: 'MODEL', label: 'Model' },
  { id: 'STUDIO', label: 'Studio' },
  { id: 'TOOL', label: 'Tool' },
  { id: '', label: 'Nothing' },
];
const DEFAULT_RANGE = '30d';

const list = (text) => (text ? text.split(',').filter(Boolean) : []);

export function readView(search = location.search) {
  const query = new URLSearchParams(search);
  const range = query.get('range') === 'custom' || PRESETS.some((p) => p.id === query.get('range')) ? query.get('range') : DEFAULT_RANGE;
  const interval = INTERVALS.some((i) => i.id === query.get('interval')) ? query.get('interval') : range === '12m' ? 'MONTH' : 'DAY';
  const by = query.has('by') ? (SPLITS.some((s) => s.id === query.get('by')) ? query.get('by') : 'MODEL') : 'MODEL';
  return {
    range,
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
    interval,
    by,
    studios: list(query.get('studios')),
    tools: list(query.get('tools')),
    models: list(query.get('models')),
    account: query.get('account'),
    platform: query.get('view') === 'platform',
  };
}

export function viewAddress(view) {
  const query = new URLSearchParams();
  if (view.platform) query.set('view', 'platform');
  if (view.account) query.set('account', view.account);
  query.set('range', view.range);
  if (view.range === 'custom') {
    query.set('from', view.from);
    query.set('to', view.to);
  }
  query.set('interval', view.interval);
  query.set('by', view.by);
  for (const name of ['studios', 'tools', 'models']) if (view[name].length) query.set(name, view[name].join(','));
  return `${location.pathname}?${query.toString().replace(/%2C/g, ',')}`;
}

// The range as instants: from the local midnight that starts its first day
// to the one that ends its last (exclusive), today included.
export function rangeOf(view, now = new Date()) {
  const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  if (view.range === 'custom') {
    const from = parseLocalDate(view.from);
    const last = parseLocalDate(view.to);
    if (from && last && from <= last) return { from, to: new Date(last.getFullYear(), last.getMonth(), last.getDate() + 1) };
  }
  const preset = PRESETS.find((p) => p.id === view.range) ?? PRESETS.find((p) => p.id === DEFAULT_RANGE);
  const from = preset.months
    ? new Date(tomorrow.getFullYear(), tomorrow.getMonth() - preset.months, tomorrow.getDate())
    : new Date(tomorrow.getFullYear(), tomorrow.getMonth(), tomorrow.getDate() - preset.days);
  return { from, to: tomorrow };
}

// The range's days as the custom inputs show them (the last one included).
export function rangeDates(view) {
  const { from, to } = rangeOf(view);
  return { from: localDate(from), to: localDate(new Date(to.getFullYear(), to.getMonth(), to.getDate() - 1)) };
}

// The `UsageFilter` of the view.
export function usageFilter(view) {
  const { from, to } = rangeOf(view);
  const filter = { from: from.toISOString(), to: to.toISOString() };
  if (view.studios.length) filter.studios = view.studios;
  if (view.tools.length) filter.tools = view.tools;
  if (view.models.length) filter.modelIds = view.models;
  return filter;
}

// `/export/usage.csv` with the same filter (and the account, for admins).
export function csvAddress(filter, accountId) {
  const query = new URLSearchParams({ from: filter.from, to: filter.to });
  if (filter.studios) query.set('studios', filter.studios.join(','));
  if (filter.tools) query.set('tools', filter.tools.join(','));
  if (filter.modelIds) query.set('modelIds', filter.modelIds.join(','));
  if (accountId !== null) query.set('accountId', accountId);
  return `/export/usage.csv?${query}`;
}
