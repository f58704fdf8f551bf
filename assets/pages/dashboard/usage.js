// Usage analytics of one account: the range and filters (kept in the
// address), the chart from `usageSeries`, the totals (with what was
// refunded), the generations page by page from `usage` with their refunds
// and causes, and the CSV of the same filter.
import { html, useEffect, useState } from '../../vendor/htm-3.1.1/standalone.module.js';
import { accountQuery, downloadCsv } from './api.js';
import { Chart } from './chart.js';
import { Controls } from './controls.js';
import { csvAddress, usageFilter } from './filters.js';
import { number, shortDateTime, timeZone } from './format.js';
import { ANALYTICS, SERIES_ARGUMENTS, USAGE_ARGUMENTS } from './queries.js';

const PAGE_SIZE = 20;

const STATUS_WORDS = { CHARGED: 'charged', PARTIALLY_REFUNDED: 'partly refunded', REFUNDED: 'refunded' };

// `RefundCause` in a person's words.
export const CAUSE_WORDS = {
  PROVIDER_ERROR: 'provider error',
  TIMEOUT: 'timed out',
  OUTPUT_MODERATED: 'output moderated',
  USER_CANCELLED: 'cancelled by the user',
  OTHER: 'other cause',
};

// The variables of the analytics query for a view and a page.
export function analyticsVariables(view, page = {}) {
  return {
    filter: usageFilter(view),
    interval: view.interval,
    by: view.by || null,
    timeZone,
    first: page.before ? null : PAGE_SIZE,
    after: page.after ?? null,
    last: page.before ? PAGE_SIZE : null,
    before: page.before ?? null,
  };
}

export function Totals({ series, usage }) {
  const average = series.generations ? Math.round((series.credits / series.generations) * 10) / 10 : 0;
  return html`<dl class="totals">
    <div><dt>Credits</dt><dd data-field="totalCredits" data-value=${series.credits}>${number(series.credits)}</dd></div>
    <div><dt>Generations</dt><dd data-field="generations" data-value=${series.generations}>${number(series.generations)}</dd></div>
    <div><dt>Outputs</dt><dd data-field="outputs" data-value=${series.outputs}>${number(series.outputs)}</dd></div>
    <div><dt>Credits per generation</dt><dd>${average}</dd></div>
    <div><dt>Refunded</dt><dd data-field="refundedCredits" data-value=${series.refundedCredits}>${number(series.refundedCredits)}</dd></div>
    ${usage && html`<div class="hidden" data-field="listTotalCount" data-value=${usage.totalCount}></div>`}
  </dl>`;
}

// A generation's status and, once refunded, each refund (oldest first):
// its credits and cause.
function Status({ node }) {
  const status = node.status.toLowerCase().replaceAll('_', '-');
  return html`<span class=${`status status-${status}`}>${STATUS_WORDS[node.status] ?? status}</span>
    ${node.refunds.length > 0 &&
    html`<ul class="refunds">
      ${node.refunds.map(
        (refund, i) => html`<li key=${i} data-refund-credits=${refund.credits} data-refund-cause=${refund.cause}
            title=${`refunded ${shortDateTime(refund.createdAt)}`}>
          −${number(refund.credits)} · ${CAUSE_WORDS[refund.cause] ?? refund.cause}</li>`,
      )}
    </ul>`}`;
}

function Generations({ usage, onPage }) {
  if (usage.edges.length === 0) {
    return html`<p class="empty" data-empty="usage">No generations in this range and filter.</p>`;
  }
  return html`<div class="table-wrap"><table class="generations">
      <thead><tr><th>When</th><th>Tool</th><th>Model</th><th class="num">Outputs</th><th class="num">Units</th><th class="num">Credits</th><th>Status</th></tr></thead>
      <tbody>
        ${usage.edges.map(
          ({ node }) => html`<tr key=${node.id} data-usage-id=${node.id} data-credits=${node.credits} data-status=${node.status}>
            <td>${shortDateTime(node.createdAt)}</td>
            <td>${node.tool}<small class="muted">${node.studio.toLowerCase()}</small></td>
            <td>${node.model?.name ?? '—'}</td>
            <td class="num">${number(node.count)}</td>
            <td class="num">${node.units === null ? '' : number(node.units)}</td>
            <td class="num">${number(node.credits)}</td>
            <td><${Status} node=${node} /></td>
          </tr>`,
        )}
      </tbody>
    </table></div>
    <nav class="pager" aria-label="Pages of generations">
      <button disabled=${!usage.pageInfo.hasPreviousPage} onClick=${() => onPage({ before: usage.pageInfo.startCursor })}>← Newer</button>
      <span class="muted">${number(usage.totalCount)} generations · ${number(usage.totalCredits)} credits</span>
      <button data-page="older" disabled=${!usage.pageInfo.hasNextPage} onClick=${() => onPage({ after: usage.pageInfo.endCursor })}>Older →</button>
    </nav>`;
}

export function Analytics({ api, token, accountId, view, setView, catalog, onError }) {
  // A page's cursors are bound to its filter: a new filter starts again
  // at the newest generations (before anything is asked with old cursors).
  const filterKey = JSON.stringify([accountId, usageFilter(view), view.interval, view.by]);
  const [paging, setPaging] = useState({ filterKey: null, page: {} });
  const page = paging.filterKey === filterKey ? paging.page : {};
  const [answer, setAnswer] = useState(null);
  const [loading, setLoading] = useState(true);
  const [exporting, setExporting] = useState(false);
  const variables = analyticsVariables(view, page);
  const key = JSON.stringify([accountId, variables]);

  useEffect(() => {
    let current = true;
    setLoading(true);
    const { query, root } = accountQuery('Analytics', `${SERIES_ARGUMENTS}, ${USAGE_ARGUMENTS}`, ANALYTICS, accountId);
    api(query, { ...root.variables, ...variables }).then(
      (data) => current && setAnswer({ key, variables, series: { ...data.account.series, interval: view.interval }, usage: data.account.usage }),
      (error) => current && onError(error),
    ).finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [key]);

  async function exportCsv() {
    setExporting(true);
    try {
      await downloadCsv(token, csvAddress(variables.filter, accountId), `usage-${view.range === 'custom' ? `${view.from}-${view.to}` : view.range}.csv`);
    } catch (error) {
      onError(error);
    } finally {
      setExporting(false);
    }
  }

  const empty = answer && answer.series.generations === 0 && view.studios.length + view.tools.length + view.models.length === 0;
  return html`<section class="card analytics" aria-labelledby="usage-title" data-loading=${loading}
      data-query=${answer ? JSON.stringify(answer.variables) : ''}>
    <header class="card-header">
      <h2 id="usage-title">Usage</h2>
      <button class="secondary" onClick=${exportCsv} disabled=${exporting} data-action="csv">${exporting ? 'Preparing…' : 'Download CSV'}</button>
    </header>
    <${Controls} view=${view} setView=${setView} catalog=${catalog} />
    ${answer === null
      ? html`<p class="muted">Loading usage…</p>`
      : html`<${Totals} series=${answer.series} usage=${answer.usage} />
        ${empty
          ? html`<p class="empty" data-empty="account">Nothing generated in this range yet. Images, videos, sketches, music and voice you create appear here with what they cost.</p>`
          : html`<${Chart} series=${answer.series} />
            <h3>Generations</h3>
            <${Generations} usage=${answer.usage} onPage=${(next) => setPaging({ filterKey, page: next })} />`}`}
  </section>`;
}
