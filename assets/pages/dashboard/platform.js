// The platform view (admins): every account's usage per period, the top
// accounts and models of the same range and filter, and a way to open any
// account's own view.
import { html, useEffect, useState } from '../../vendor/htm-3.1.1/standalone.module.js';
import { Chart } from './chart.js';
import { Controls } from './controls.js';
import { usageFilter } from './filters.js';
import { number, timeZone } from './format.js';
import { PLATFORM } from './queries.js';
import { Totals } from './usage.js';

function OpenAccount({ onOpen }) {
  const [id, setId] = useState('');
  const submit = (event) => {
    event.preventDefault();
    if (id.trim()) onOpen(id.trim());
  };
  return html`<form class="open-account" onSubmit=${submit}>
    <label>Open an account <input name="account" placeholder="account id" value=${id} onInput=${(event) => setId(event.currentTarget.value)} /></label>
    <button class="secondary" type="submit">Open</button>
  </form>`;
}

function Leaders({ title, rows, name, onOpen }) {
  return html`<section class="card leaders" data-leaders=${name}>
    <h3>${title}</h3>
    ${rows.length === 0
      ? html`<p class="empty">Nothing in this range.</p>`
      : html`<table>
          <thead><tr><th>${name === 'accounts' ? 'Account' : 'Model'}</th><th class="num">Generations</th><th class="num">Credits</th></tr></thead>
          <tbody>
            ${rows.map(
              (row) => html`<tr key=${row.id} data-row=${row.id} data-credits=${row.credits}>
                <td>${onOpen ? html`<button class="link" onClick=${() => onOpen(row.id)}>${row.id}</button>` : row.label}</td>
                <td class="num">${number(row.generations)}</td>
                <td class="num">${number(row.credits)}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

export function Platform({ api, view, setView, catalog, onError }) {
  const [answer, setAnswer] = useState(null);
  const variables = { filter: usageFilter(view), interval: view.interval, by: view.by || null, timeZone };
  const key = JSON.stringify(variables);
  useEffect(() => {
    let current = true;
    api(PLATFORM, variables).then(
      (data) => current && setAnswer({ key, variables, data }),
      (error) => current && onError(error),
    );
    return () => {
      current = false;
    };
  }, [key]);
  const open = (account) => setView({ ...view, platform: false, account });
  const data = answer?.data;
  return html`<div class="platform" data-query=${answer ? JSON.stringify(answer.variables) : ''}>
    <section class="card">
      <header class="card-header">
        <h2>Platform usage</h2>
        <${OpenAccount} onOpen=${open} />
      </header>
      <${Controls} view=${view} setView=${setView} catalog=${catalog} />
      ${data ? html`<${Totals} series=${data.series} /><${Chart} series=${{ ...data.series, interval: view.interval }} />` : html`<p class="muted">Loading…</p>`}
    </section>
    ${data &&
    html`<div class="columns">
      <${Leaders} title="Top accounts" name="accounts" onOpen=${open}
        rows=${data.topAccounts.map((a) => ({ id: a.accountId, label: a.accountId, generations: a.generations, credits: a.credits }))} />
      <${Leaders} title="Top models" name="models"
        rows=${data.topModels.map((m) => ({ id: m.model?.id ?? '—', label: m.model?.name ?? 'no model', generations: m.generations, credits: m.credits }))} />
    </div>`}
  </div>`;
}
