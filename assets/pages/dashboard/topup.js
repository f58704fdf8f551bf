// "Buy tokens": the token packs, a request that creates a top-up
// (`requestTopUp`), the checkout opened when the server names one, and the
// top-up's status as the payments backend moves it (asked every 3 s while
// one is pending and the dialog is open).
import { html, useEffect, useRef, useState } from '../../vendor/htm-3.1.1/standalone.module.js';
import { accountQuery } from './api.js';
import { dateTime, money, number } from './format.js';
import { REQUEST_TOP_UP, TOKEN_PACKS, TOP_UPS } from './queries.js';

const POLL_MS = 3000;

const STATUS_WORDS = {
  PENDING: 'Pending: waiting for the payment',
  SUCCEEDED: 'Paid: the tokens are in your wallet',
  FAILED: 'Failed: nothing was charged',
  EXPIRED: 'Expired: the payment did not come in time',
};

const ERROR_WORDS = {
  SUBSCRIPTION_REQUIRED: 'Tokens can be bought with an active subscription.',
  TOP_UP_PENDING: 'A top-up is already waiting for its payment: finish or cancel it first.',
  UNKNOWN_PACK: 'That pack is no longer sold.',
};

// An idempotency key per click: a retried request creates one top-up.
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `dashboard-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function Status({ topUp }) {
  return html`<span class=${`status status-${topUp.status.toLowerCase()}`} data-top-up=${topUp.id} data-status=${topUp.status}>
    ${STATUS_WORDS[topUp.status] ?? topUp.status}</span>`;
}

export function BuyTokens({ api, accountId, onClose }) {
  const dialog = useRef(null);
  const [packs, setPacks] = useState(null);
  const [topUps, setTopUps] = useState([]);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);

  const history = accountQuery('TopUps', '', TOP_UPS, accountId);
  const refresh = () => api(history.query, history.root.variables).then((data) => setTopUps(data.account?.topUps.nodes ?? []));

  useEffect(() => {
    dialog.current.showModal();
    api(TOKEN_PACKS).then((data) => setPacks(data.tokenPacks), (error) => setMessage(error.message));
    refresh().catch((error) => setMessage(error.message));
  }, []);

  const pending = topUps.some((t) => t.status === 'PENDING');
  useEffect(() => {
    if (!pending) return undefined;
    const timer = setInterval(() => refresh().catch(() => {}), POLL_MS);
    return () => clearInterval(timer);
  }, [pending]);

  async function buy(pack) {
    setBusy(true);
    setMessage(null);
    try {
      const input = { packId: pack.id, idempotencyKey: newKey() };
      if (accountId !== null) input.accountId = accountId;
      const { requestTopUp } = await api(REQUEST_TOP_UP, { input });
      const error = requestTopUp.errors[0];
      if (error) {
        setMessage(ERROR_WORDS[error.code] ?? error.message);
      } else {
        if (requestTopUp.topUp.checkoutUrl) window.open(requestTopUp.topUp.checkoutUrl, '_blank', 'noopener');
        await refresh();
      }
    } catch (error) {
      setMessage(error.message);
    } finally {
      setBusy(false);
    }
  }

  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="buy-title" onClose=${onClose}>
    <header class="card-header">
      <h2 id="buy-title">Buy tokens</h2>
      <button class="icon" aria-label="Close" onClick=${() => dialog.current.close()}>×</button>
    </header>
    <p class="muted">Tokens never expire and keep paying for standard models after a subscription ends.</p>
    ${packs === null && !message && html`<p class="muted">Loading the packs…</p>`}
    <ul class="packs">
      ${(packs ?? []).map(
        (pack) => html`<li class="pack" key=${pack.id}>
          <div><strong>${number(pack.tokens)}</strong> tokens</div>
          <div class="muted">${money(pack.priceCents)}</div>
          <button class="primary" data-pack=${pack.id} disabled=${busy || pending} onClick=${() => buy(pack)}>Buy</button>
        </li>`,
      )}
    </ul>
    ${message && html`<div class="notice notice-error" role="alert">${message}</div>`}
    ${topUps.length > 0 &&
    html`<h3>Your top-ups</h3>
      <ul class="top-ups">
        ${topUps.map(
          (topUp) => html`<li key=${topUp.id}>
            <span>${number(topUp.pack.tokens)} tokens · ${money(topUp.pack.priceCents)} · ${dateTime(topUp.createdAt)}</span>
            <${Status} topUp=${topUp} />
            ${topUp.status === 'PENDING' && topUp.checkoutUrl && html`<a href=${topUp.checkoutUrl} target="_blank" rel="noopener">Pay</a>`}
          </li>`,
        )}
      </ul>`}
  </dialog>`;
}
