// Credits per period as stacked bars (uPlot, a global of its own script),
// with a legend of each line's total and a readout of the period under the
// pointer. The same numbers are in the DOM as a table (for screen readers
// and for the browser tests) and as `data-chart` on the figure.
import { html, useEffect, useRef, useState } from '../../vendor/htm-3.1.1/standalone.module.js';
import { number, period } from './format.js';

const COLOURS = ['#4f46e5', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#ec4899', '#84cc16', '#94a3b8'];
const HEIGHT = 260;

const colour = (index, line) => (line.other ? COLOURS[COLOURS.length - 1] : COLOURS[index % (COLOURS.length - 1)]);

// uPlot draws its series in order, each bar from zero: drawing the running
// totals from the largest down leaves each line's own band visible.
function stacked(lines) {
  const totals = [];
  let running = null;
  for (const line of lines) {
    running = running ? running.map((value, i) => value + line.credits[i]) : [...line.credits];
    totals.push(running);
  }
  return totals.reverse();
}

function options(series, width, onHover) {
  const { uPlot } = globalThis;
  const count = series.periods.length;
  const label = (i) => (Number.isInteger(i) && i >= 0 && i < count ? period(series.periods[i], series.interval) : '');
  const bars = uPlot.paths.bars({ size: [0.72, 48], gap: 1 });
  const lines = [...series.series].reverse();
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    scales: { x: { time: false, range: () => [-0.5, count - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.08)] } },
    axes: [
      { stroke: '#64748b', grid: { show: false }, ticks: { show: false }, space: 56, values: (u, splits) => splits.map(label) },
      { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { show: false }, size: 56, values: (u, splits) => splits.map(number) },
    ],
    series: [
      {},
      ...lines.map((line, i) => {
        const index = series.series.length - 1 - i;
        return { label: line.label, fill: colour(index, line), stroke: colour(index, line), width: 0, paths: bars, points: { show: false } };
      }),
    ],
    hooks: { setCursor: [(u) => onHover(u.cursor.idx ?? null)] },
  };
}

function Readout({ series, index }) {
  if (index === null || index === undefined) {
    return html`<div class="readout muted">Point at a bar to see its figures.</div>`;
  }
  const total = series.series.reduce((sum, line) => sum + line.credits[index], 0);
  return html`<div class="readout">
    <strong>${period(series.periods[index], series.interval, true)}</strong>
    ${series.series.filter((line) => line.credits[index] > 0).map((line) => html`<span key=${line.key}>${line.label} ${number(line.credits[index])}</span>`)}
    <span>total <strong>${number(total)}</strong></span>
  </div>`;
}

export function Chart({ series }) {
  const box = useRef(null);
  const [hover, setHover] = useState(null);
  useEffect(() => {
    const element = box.current;
    if (!globalThis.uPlot || series.periods.length === 0) return undefined;
    const data = [series.periods.map((_, i) => i), ...stacked(series.series)];
    const plot = new globalThis.uPlot(options(series, element.clientWidth || 600, setHover), data, element);
    const resize = new ResizeObserver(() => plot.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [series]);

  const shown = {
    periods: series.periods,
    series: series.series.map((line) => ({ key: line.key, label: line.label, credits: line.credits, totalCredits: line.totalCredits })),
  };
  return html`<figure class="chart" data-chart=${JSON.stringify(shown)}>
    <div class="legend">
      ${series.series.map(
        (line, i) => html`<span class="legend-item" key=${line.key}><i class="swatch" style=${{ background: colour(i, line) }}></i>${line.label}
          <span class="muted">${number(line.totalCredits)}</span></span>`,
      )}
    </div>
    <div class="plot" ref=${box} aria-hidden="true"></div>
    <${Readout} series=${series} index=${hover} />
    <details class="chart-table">
      <summary>Show the figures as a table</summary>
      <table>
        <caption>Credits per period</caption>
        <thead><tr><th scope="col">Period</th>${series.series.map((line) => html`<th scope="col" key=${line.key}>${line.label}</th>`)}</tr></thead>
        <tbody>
          ${series.periods.map(
            (start, i) => html`<tr key=${start}><th scope="row">${period(start, series.interval, true)}</th>
              ${series.series.map((line) => html`<td key=${line.key}>${number(line.credits[i])}</td>`)}</tr>`,
          )}
        </tbody>
      </table>
    </details>
  </figure>`;
}
