// The dashboard's only door to the server: GraphQL over HTTP at /graphql
// and the CSV export, both with the bearer token of this tab. The token
// lives in sessionStorage (this tab only, gone with it): never a cookie,
// never localStorage, never written to the console.
const TOKEN_KEY = 'credits.token';

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function keepToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (a private window's policy): the token lasts as long as the page.
  }
}

// `#token=...` is read once and dropped from the address bar and from the
// history entry, so that copying the address never copies the token.
export function takeTokenFromAddress() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token !== null) history.replaceState(history.state, '', location.pathname + location.search);
  return token;
}

// The token's claims, read for display only (the server checks the
// signature): who it names, its role, and when it expires.
export function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
    if (typeof json.sub !== 'string' || typeof json.role !== 'string') return null;
    return { sub: json.sub, role: json.role, exp: typeof json.exp === 'number' ? json.exp : null };
  } catch {
    return null;
  }
}

export function isExpired(token, now = Date.now()) {
  const exp = claims(token)?.exp;
  return exp !== null && exp !== undefined && exp * 1000 <= now;
}

// A failure the page explains to the person: `kind` picks the words.
// unreachable: no answer (server down, network); unauthenticated: the token
// was refused; forbidden: the role may not; failed: anything else.
export class ApiError extends Error {
  constructor(kind, message, code = null) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

const KIND_OF_CODE = { UNAUTHENTICATED: 'unauthenticated', FORBIDDEN: 'forbidden', SERVICE_UNAVAILABLE: 'unreachable' };

export async function graphql(token, query, variables = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('unreachable', 'The server cannot be reached.');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    const kind = response.status >= 500 ? 'unreachable' : 'failed';
    throw new ApiError(kind, `The server answered ${response.status} ${response.statusText}.`);
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? null;
    throw new ApiError(KIND_OF_CODE[code] ?? 'failed', error.message, code);
  }
  return body.data;
}

// The root of an account's queries: the caller's own (`viewer`) or, for a
// service or admin, any account by id.
export function accountRoot(accountId) {
  return accountId === null
    ? { definition: '', field: 'viewer', variables: {} }
    : { definition: '$accountId: ID!', field: 'account(id: $accountId)', variables: { accountId } };
}

// `query Name(<definitions>) { <root> { <body> } <extra> }` for an account.
export function accountQuery(name, definitions, body, accountId, extra = '') {
  const root = accountRoot(accountId);
  const all = [root.definition, definitions].filter(Boolean).join(', ');
  return { query: `query ${name}${all ? `(${all})` : ''} { account: ${root.field} { ${body} } ${extra} }`, root };
}

// The CSV of the filtered list: fetched with the token (a link could not
// carry it), then saved from a blob.
export async function downloadCsv(token, address, fileName) {
  let response;
  try {
    response = await fetch(address, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError('unreachable', 'The server cannot be reached.');
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const message = body?.errors?.[0]?.message ?? `The export answered ${response.status}.`;
    throw new ApiError(response.status === 401 ? 'unauthenticated' : 'failed', message);
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
