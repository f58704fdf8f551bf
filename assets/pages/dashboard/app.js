// The dashboard: sign-in with a bearer token, then the wallet and usage
// analytics of the caller's account, or for admins the platform and any
// account. Everything the page shows comes from /graphql as its token
// allows; the view lives in the address (see filters.js).
import { html, render, useEffect, useState } from '../../vendor/htm-3.1.1/standalone.module.js';
import { ApiError, accountQuery, claims, graphql, isExpired, keepToken, storedToken, takeTokenFromAddress } from './api.js';
import { readView, viewAddress } from './filters.js';
import { dateTime } from './format.js';
import { followWallet } from './live.js';
import { Platform } from './platform.js';
import { CATALOG, OVERVIEW } from './queries.js';
import { BuyTokens } from './topup.js';
import { Analytics } from './usage.js';
import { WalletCard } from './wallet.js';

const ADMIN_ROLES = ['admin', 'service'];

// What the page's Content-Security-Policy refused, for a person (or the
// browser tests) to see.
const cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => cspViolations.push(`${event.effectiveDirective} ${event.blockedURI || 'inline'}`));
globalThis.creditsDashboard = { cspViolations };

// Why a token does not open the dashboard, in words a person can act on.
function refusal(token, error) {
  if (isExpired(token)) {
    return html`This token expired on ${dateTime(claims(token).exp * 1000)}. Ask for a new one:
      <code>credits token --role user --sub ${claims(token).sub} --dashboard</code>`;
  }
  if (claims(token) === null) return 'This is not a bearer token: paste the whole token that `credits token` prints.';
  return `The server refused this token${error?.message ? ` (${error.message})` : ''}. It may be signed with another secret.`;
}

function SignIn({ message, onToken }) {
  const [text, setText] = useState('');
  const submit = (event) => {
    event.preventDefault();
    if (text.trim()) onToken(text.trim().replace(/^Bearer\s+/i, ''));
  };
  return html`<main class="sign-in">
    <form class="card" onSubmit=${submit}>
      <h1>Sign in to your credits</h1>
      ${message && html`<div class="notice notice-error" role="alert" data-error="token">${message}</div>`}
      <label for="token">Bearer token</label>
      <textarea id="token" name="token" rows="4" spellcheck="false" autocomplete="off" placeholder="eyJ0eXAiOiJKV1Qi…"
        value=${text} onInput=${(event) => setText(event.currentTarget.value)}></textarea>
      <button class="primary" type="submit">Open the dashboard</button>
      <p class="muted small">The token stays in this browser tab only. An operator prints a ready link with
        <code>credits token --role user --sub alice --dashboard</code>.</p>
    </form>
  </main>`;
}

function Unreachable({ onRetry }) {
  return html`<div class="notice notice-error banner" role="alert" data-error="unreachable">
    <strong>The server cannot be reached.</strong> It may be down or restarting; what is on screen may be out of date.
    <button class="link" onClick=${onRetry}>Try again</button>
  </div>`;
}

function Header({ who, view, setView, onSignOut }) {
  const admin = ADMIN_ROLES.includes(who.role);
  return html`<header class="top">
    <div class="brand"><span class="logo">◆</span> credits</div>
    ${admin &&
    html`<nav class="tabs">
      ${who.role === 'admin' && html`<button class=${view.platform ? 'on' : ''} data-nav="platform" onClick=${() => setView({ ...view, platform: true, account: null })}>Platform</button>`}
      ${view.account && html`<button class=${view.platform ? '' : 'on'} data-nav="account">Account ${view.account}</button>`}
    </nav>`}
    <div class="who">
      <span class="muted">${who.sub} · ${who.role}</span>
      <a href="/" class="link">GraphiQL</a>
      <button class="link" onClick=${onSignOut} data-action="sign-out">Sign out</button>
    </div>
  </header>`;
}

function AccountView({ api, token, accountId, view, setView, catalog, onError }) {
  const [overview, setOverview] = useState(null);
  const [live, setLive] = useState('connecting');
  const [buying, setBuying] = useState(false);
  useEffect(() => {
    let current = true;
    setOverview(null);
    const { query, root } = accountQuery('Overview', '', OVERVIEW, accountId);
    const load = () => api(query, root.variables).then((data) => current && setOverview(data.account), (error) => current && onError(error));
    load();
    // Once following, read the wallet again: a change made between the
    // first read and the subscription's start would otherwise be missed.
    const state = (next) => {
      setLive(next);
      if (next === 'live') load();
    };
    const stop = followWallet(token, accountId, (wallet) => current && setOverview((old) => old && { ...old, wallet }), state);
    return () => {
      current = false;
      stop();
    };
  }, [accountId]);
  if (overview === null) return html`<p class="muted loading">Loading the wallet…</p>`;
  // Only the signed-in user sets limits here, on their own account.
  const limits = { editable: accountId === null, api, onError, onWallet: (wallet) => setOverview((old) => ({ ...old, wallet })) };
  return html`<div class="account">
    <${WalletCard} overview=${overview} live=${live} onBuy=${() => setBuying(true)} limits=${limits} />
    <${Analytics} api=${api} token=${token} accountId=${accountId} view=${view} setView=${setView} catalog=${catalog} onError=${onError} />
    ${buying && html`<${BuyTokens} api=${api} accountId=${accountId} onClose=${() => setBuying(false)} />`}
  </div>`;
}

function Dashboard({ token, onRefused, onSignOut }) {
  const who = claims(token);
  const [view, setViewState] = useState(() => {
    const view = readView();
    return ADMIN_ROLES.includes(who.role) && !view.account ? { ...view, platform: who.role === 'admin' } : view;
  });
  const [catalog, setCatalog] = useState([]);
  const [unreachable, setUnreachable] = useState(false);
  const [failure, setFailure] = useState(null);
  const [attempt, setAttempt] = useState(0);

  const onError = (error) => {
    if (error instanceof ApiError && error.kind === 'unauthenticated') onRefused(error);
    else if (error instanceof ApiError && error.kind === 'unreachable') setUnreachable(true);
    else setFailure(error.message);
  };
  const api = (query, variables) =>
    graphql(token, query, variables).then((data) => {
      setUnreachable(false);
      return data;
    });
  const setView = (next) => {
    history.pushState(null, '', viewAddress(next));
    setViewState(next);
  };
  useEffect(() => {
    const back = () => setViewState(readView());
    addEventListener('popstate', back);
    history.replaceState(null, '', viewAddress(view));
    return () => removeEventListener('popstate', back);
  }, []);
  useEffect(() => {
    api(`query Catalog { ${CATALOG} }`).then((data) => setCatalog(data.studios), onError);
  }, [attempt]);

  const accountId = ADMIN_ROLES.includes(who.role) ? view.account : null;
  let body;
  if (view.platform && who.role === 'admin') {
    body = html`<${Platform} key=${attempt} api=${api} view=${view} setView=${setView} catalog=${catalog} onError=${onError} />`;
  } else if (ADMIN_ROLES.includes(who.role) && !accountId) {
    body = html`<p class="empty">A service token opens one account at a time: add <code>?account=ID</code> to the address.</p>`;
  } else {
    body = html`<${AccountView} key=${`${accountId}-${attempt}`} api=${api} token=${token} accountId=${accountId} view=${view}
      setView=${setView} catalog=${catalog} onError=${onError} />`;
  }
  return html`<${Header} who=${who} view=${view} setView=${setView} onSignOut=${onSignOut} />
    <main class="content">
      ${unreachable && html`<${Unreachable} onRetry=${() => setAttempt(attempt + 1)} />`}
      ${failure &&
      html`<div class="notice notice-error banner" role="alert" data-error="failed">${failure}
        <button class="link" onClick=${() => setFailure(null)}>Dismiss</button></div>`}
      ${body}
    </main>`;
}

function App() {
  const [token, setToken] = useState(() => {
    const fromAddress = takeTokenFromAddress();
    if (fromAddress) keepToken(fromAddress);
    return fromAddress || storedToken();
  });
  const [message, setMessage] = useState(() => (token && (isExpired(token) || claims(token) === null) ? refusal(token) : null));
  const signIn = (next) => {
    keepToken(next);
    setToken(next);
    setMessage(next && (isExpired(next) || claims(next) === null) ? refusal(next) : null);
  };
  // A link with another token, opened in this tab, signs in with it.
  useEffect(() => {
    const follow = () => {
      const next = takeTokenFromAddress();
      if (next) signIn(next);
    };
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  if (!(token && message === null)) return html`<${SignIn} message=${message} onToken=${signIn} />`;
  return html`<${Dashboard} key=${token} token=${token} onRefused=${(error) => setMessage(refusal(token, error))} onSignOut=${() => signIn('')} />`;
}

render(html`<${App} />`, document.getElementById('dashboard'));
