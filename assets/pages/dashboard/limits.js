// The wallet card's spend limits (`wallet.spendLimit`): the daily limit with
// what is left of today's and when the count starts again, the
// per-generation limit, a notice once today's limit is used up, and on the
// user's own account a form to set or clear their own daily limit
// (`setSpendLimit`; the server refuses more than an admin's, and its words
// are shown). Nothing is shown of limits an account does not have.
import { html, useState } from '../../vendor/htm-3.1.1/standalone.module.js';
import { figure, number, time, untilNow } from './format.js';
import { SET_DAILY_LIMIT } from './queries.js';

const reached = (limit) => limit.daily !== null && limit.dailyLeft === 0;

// Above the balance, as the low-balance notice: charges and holds are refused
// until the day's count starts again.
export function LimitReached({ limit }) {
  if (!reached(limit)) return null;
  const whose = limit.userDaily === limit.daily ? 'your own daily limit' : 'the daily limit an admin set';
  return html`<div class="notice notice-warning" role="status" data-notice="daily-limit">
    <strong>Today's spend limit is reached.</strong> ${`${number(limit.dailySpent)} of ${number(limit.daily)} credits spent (${whose}): `}
    ${`generations are refused until ${time(limit.dailyResetsAt)}, ${untilNow(limit.dailyResetsAt)}.`}
  </div>`;
}

function Daily({ limit }) {
  const percent = limit.daily > 0 ? Math.max(0, Math.min(100, (limit.dailyLeft / limit.daily) * 100)) : 0;
  return html`<div class="limit">
    <div class="subscription-line">
      <span>Today's spend limit</span>
      <span><strong>${figure('dailyLeft', limit.dailyLeft)}</strong>
        <span class="muted"> left of ${figure('dailyLimit', limit.daily)}</span></span>
    </div>
    <div class=${`bar${reached(limit) ? ' bar-empty' : ''}`} role="progressbar" aria-label="Today's spend limit left"
      aria-valuemin="0" aria-valuemax=${limit.daily} aria-valuenow=${limit.dailyLeft}>
      <div class="bar-fill" style=${{ width: `${percent}%` }}></div>
    </div>
    <div class="muted small" data-field="dailyResetsAt" data-value=${limit.dailyResetsAt}>
      ${figure('dailySpent', limit.dailySpent)} spent today · starts again ${untilNow(limit.dailyResetsAt)}, at ${time(limit.dailyResetsAt)}
    </div>
  </div>`;
}

// The user's own daily limit: set, changed or cleared; an admin's, if any,
// is the most it may be.
function OwnDailyLimit({ limit, api, onWallet, onError }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const [refusal, setRefusal] = useState(null);
  const [busy, setBusy] = useState(false);

  async function send(daily) {
    setBusy(true);
    setRefusal(null);
    try {
      const { setSpendLimit } = await api(SET_DAILY_LIMIT, { input: { daily } });
      if (setSpendLimit.errors.length > 0) {
        setRefusal(setSpendLimit.errors[0].message);
      } else {
        onWallet(setSpendLimit.wallet);
        setEditing(false);
      }
    } catch (error) {
      onError(error);
    } finally {
      setBusy(false);
    }
  }
  const submit = (event) => {
    event.preventDefault();
    const daily = Number(text);
    if (text.trim() === '' || !Number.isInteger(daily)) setRefusal('Enter a whole number of credits.');
    else send(daily);
  };
  const edit = () => {
    setText(limit.userDaily === null ? '' : String(limit.userDaily));
    setRefusal(null);
    setEditing(true);
  };
  const cancel = () => {
    setRefusal(null);
    setEditing(false);
  };
  const admin = limit.adminDaily !== null && html`<span data-field="adminDaily" data-value=${limit.adminDaily}>an admin's limit: ${number(limit.adminDaily)} a day</span>`;

  return html`<div class="own-limit" data-own-limit=${limit.userDaily ?? ''}>
    ${editing
      ? html`<form class="limit-form" onSubmit=${submit}>
          <label>Your daily limit <input type="number" name="daily" min="1" step="1" inputmode="numeric" value=${text}
            onInput=${(event) => setText(event.currentTarget.value)} /> credits</label>
          <button class="primary" type="submit" disabled=${busy} data-action="save-limit">Save</button>
          <button class="link" type="button" onClick=${cancel}>Cancel</button>
          ${admin && html`<div class="muted small">At most ${admin}.</div>`}
        </form>`
      : html`<div class="muted small">
          ${limit.userDaily === null
            ? html`<button class="link" onClick=${edit} data-action="set-limit">Set a daily spend limit</button>`
            : html`Your own limit: ${number(limit.userDaily)} a day
                <button class="link" onClick=${edit} data-action="set-limit">Change</button>
                <button class="link" onClick=${() => send(null)} disabled=${busy} data-action="clear-limit">Clear</button>`}
          ${limit.userDaily === null && admin && html` · ${admin}`}
        </div>`}
    ${refusal && html`<div class="notice notice-error" role="alert" data-error="spend-limit">${refusal}</div>`}
  </div>`;
}

// `editable`: the signed-in user's own account (an admin or a service
// looking at an account only reads its limits).
export function SpendLimits({ limit, editable, api, onWallet, onError }) {
  const any = limit.daily !== null || limit.perGeneration !== null;
  if (!any && !editable) return null;
  return html`<div class="limits" data-limits>
    ${any && html`<h3>Spend limits</h3>`}
    ${limit.daily !== null && html`<${Daily} limit=${limit} />`}
    ${limit.perGeneration !== null &&
    html`<div class="subscription-line">
      <span>Per generation</span>
      <span>at most <strong>${figure('perGenerationLimit', limit.perGeneration)}</strong> credits</span>
    </div>`}
    ${editable && html`<${OwnDailyLimit} limit=${limit} api=${api} onWallet=${onWallet} onError=${onError} />`}
  </div>`;
}
