// The wallet card: what can be spent now, the subscription credits left
// (a number, a percentage and a bar), each source, the held credits, when
// the daily free credits reset, a notice when the balance runs low, and the
// spend limits (limits.js).
import { html } from '../../vendor/htm-3.1.1/standalone.module.js';
import { dateTime, figure, number, percentage, time, untilNow } from './format.js';
import { LimitReached, SpendLimits } from './limits.js';

const LIVE_WORDS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  refused: 'Not live',
};

function Source({ name, hint, field, value }) {
  return html`<li class="source">
    <span class="source-name">${name}${hint && html`<small>${hint}</small>`}</span>
    <strong>${figure(field, value)}</strong>
  </li>`;
}

// `limits`: what the spend limits' form needs (see SpendLimits).
export function WalletCard({ overview, live, onBuy, limits }) {
  const { wallet, plan, subscription } = overview;
  const percent = Math.max(0, Math.min(100, wallet.subscriptionPercentLeft));
  const subscribed = wallet.subscriptionAllowance > 0;
  const renews = subscription && subscription.status === 'ACTIVE' && !subscription.cancelAtPeriodEnd;
  return html`<section class="card wallet" aria-labelledby="wallet-title" data-account=${overview.id}>
    <header class="card-header">
      <h2 id="wallet-title">Wallet</h2>
      <span class=${`live live-${live}`} title="Follows every change of the balance as it happens">${LIVE_WORDS[live] ?? ''}</span>
    </header>
    ${wallet.lowBalance &&
    html`<div class="notice notice-warning" role="status" data-notice="low-balance">
      <strong>Your balance is low.</strong> ${`${number(wallet.balance)} credits left, under your threshold of ${number(wallet.lowBalanceThreshold)}. `}
      ${plan.canBuyTokens ? html`<button class="link" onClick=${onBuy}>Buy tokens</button>` : ' Subscribe to a paid plan to buy tokens.'}
    </div>`}
    <${LimitReached} limit=${wallet.spendLimit} />
    <div class="balance">
      <div>
        <div class="balance-figure">${figure('balance', wallet.balance)}</div>
        <div class="muted">credits available · ${figure('proBalance', wallet.proBalance)} for Pro models</div>
      </div>
      <button class="primary" onClick=${onBuy} disabled=${!plan.canBuyTokens}
        title=${plan.canBuyTokens ? 'Buy a token pack' : 'Tokens can be bought with a paid subscription'}>Buy tokens</button>
    </div>
    <div class="subscription">
      <div class="subscription-line">
        <span>Subscription credits left</span>
        <span><strong>${figure('subscriptionCredits', wallet.subscriptionCredits)}</strong>
          <span class="muted"> / ${number(wallet.subscriptionAllowance)}</span>
          <span class="percent" data-field="subscriptionPercentLeft" data-value=${wallet.subscriptionPercentLeft}>${percentage(wallet.subscriptionPercentLeft)}</span></span>
      </div>
      <div class="bar" role="progressbar" aria-label="Subscription credits left" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent}>
        <div class="bar-fill" style=${{ width: `${percent}%` }}></div>
      </div>
      <div class="muted small">
        ${plan.name} plan${subscribed && subscription
          ? ` · ${renews ? 'renews' : 'ends'} ${dateTime(subscription.currentPeriodEnd)}`
          : ' · no monthly allowance'}
      </div>
    </div>
    <ul class="sources">
      <${Source} name="Daily free" hint=${`resets ${untilNow(wallet.dailyFreeResetsAt)}, at ${time(wallet.dailyFreeResetsAt)}`} field="dailyFree" value=${wallet.dailyFree} />
      <${Source} name="Subscription" hint="expires at the period's end" field="subscription" value=${wallet.subscriptionCredits} />
      <${Source} name="Tokens" hint="bought; never expire" field="tokens" value=${wallet.tokens} />
      <${Source} name="Promo" hint="granted" field="promo" value=${wallet.promo} />
      <${Source} name="Held" hint="reserved by running generations" field="held" value=${wallet.held} />
    </ul>
    <p class="muted small" data-field="dailyFreeResetsAt" data-value=${wallet.dailyFreeResetsAt}>
      Daily free credits reset ${untilNow(wallet.dailyFreeResetsAt)} (${dateTime(wallet.dailyFreeResetsAt)}).
    </p>
    <${SpendLimits} limit=${wallet.spendLimit} ...${limits} />
  </section>`;
}
