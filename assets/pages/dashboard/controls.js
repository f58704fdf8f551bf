// The analytics' controls: range presets and custom dates, the interval,
// the split, and the studio, tool and model filters (lists of checkboxes
// in disclosure menus). Each change becomes a new address (see filters.js).
import { html } from '../../vendor/htm-3.1.1/standalone.module.js';
import { INTERVALS, PRESETS, SPLITS, rangeDates, rangeOf } from './filters.js';
import { parseLocalDate, period } from './format.js';

function Segmented({ label, options, value, onChange, name }) {
  return html`<div class="segmented" role="group" aria-label=${label}>
    ${options.map(
      (option) => html`<button key=${option.id} ...${{ [`data-${name}`]: option.id }} aria-pressed=${value === option.id}
        class=${value === option.id ? 'on' : ''} onClick=${() => onChange(option.id)}>${option.label}</button>`,
    )}
  </div>`;
}

// A filter: checkboxes in a <details> menu; nothing checked means every one.
function Choices({ label, name, options, chosen, onChange }) {
  const toggle = (id, on) => onChange(on ? [...chosen, id] : chosen.filter((c) => c !== id));
  const summary = chosen.length === 0 ? `All ${label.toLowerCase()}` : chosen.length === 1 ? options.find((o) => o.id === chosen[0])?.label ?? chosen[0] : `${chosen.length} ${label.toLowerCase()}`;
  return html`<details class="choices" data-filter=${name}>
    <summary class=${chosen.length ? 'on' : ''}>${summary}</summary>
    <div class="menu">
      ${options.map(
        (option) => html`<label key=${option.id}><input type="checkbox" value=${option.id} checked=${chosen.includes(option.id)}
          onChange=${(event) => toggle(option.id, event.currentTarget.checked)} /> ${option.label}</label>`,
      )}
      ${chosen.length > 0 && html`<button class="link" onClick=${() => onChange([])}>Clear</button>`}
    </div>
  </details>`;
}

function unique(items) {
  const seen = new Map();
  for (const item of items) if (!seen.has(item.id)) seen.set(item.id, item);
  return [...seen.values()].sort((a, b) => a.label.localeCompare(b.label));
}

export function Controls({ view, setView, catalog }) {
  const studios = catalog.map((s) => ({ id: s.kind, label: s.name }));
  const tools = unique(catalog.flatMap((s) => s.tools.map((t) => ({ id: t.code, label: t.name }))));
  const models = unique(catalog.flatMap((s) => s.models.map((m) => ({ id: m.id, label: m.name }))));
  const dates = rangeDates(view);
  const custom = (field, value) => setView({ ...view, range: 'custom', ...dates, [field]: value });
  return html`<div class="controls">
    <div class="control-row">
      <${Segmented} label="Range" name="range" options=${[...PRESETS, { id: 'custom', label: 'Custom' }]} value=${view.range}
        onChange=${(range) => setView(range === 'custom' ? { ...view, range, ...dates } : { ...view, range })} />
      ${view.range === 'custom'
        ? html`<label class="date">From <input type="date" data-date="from" value=${dates.from} max=${dates.to}
              onChange=${(event) => custom('from', event.currentTarget.value)} /></label>
            <label class="date">to <input type="date" data-date="to" value=${dates.to} min=${dates.from}
              onChange=${(event) => custom('to', event.currentTarget.value)} /></label>`
        : html`<span class="muted range-dates">${period(rangeOf(view).from, 'DAY', true)} – ${period(parseLocalDate(dates.to), 'DAY', true)}</span>`}
    </div>
    <div class="control-row">
      <${Segmented} label="Interval" name="interval" options=${INTERVALS} value=${view.interval} onChange=${(interval) => setView({ ...view, interval })} />
      <label class="split">Split by
        <select data-split value=${view.by} onChange=${(event) => setView({ ...view, by: event.currentTarget.value })}>
          ${SPLITS.map((split) => html`<option key=${split.id} value=${split.id}>${split.label}</option>`)}
        </select>
      </label>
      <${Choices} label="Studios" name="studios" options=${studios} chosen=${view.studios} onChange=${(studios) => setView({ ...view, studios })} />
      <${Choices} label="Tools" name="tools" options=${tools} chosen=${view.tools} onChange=${(tools) => setView({ ...view, tools })} />
      <${Choices} label="Models" name="models" options=${models} chosen=${view.models} onChange=${(models) => setView({ ...view, models })} />
    </div>
  </div>`;
}
