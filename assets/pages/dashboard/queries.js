// The GraphQL the dashboard asks, in one place. The usage benchmark reads
// the first view's documents from this file (the `export const` names), so
// what it measures is what the page sends.

export const WALLET = `balance proBalance dailyFree dailyFreeResetsAt subscriptionCredits
  subscriptionAllowance subscriptionPercentLeft tokens promo held lowBalance lowBalanceThreshold
  spendLimit { daily perGeneration dailySpent dailyLeft dailyResetsAt userDaily adminDaily }`;

// An account's header and wallet (body under `viewer` or `account(id:)`).
export const OVERVIEW = `id plan { code name canBuyTokens }
  subscription { status currentPeriodEnd cancelAtPeriodEnd plan { name } }
  wallet { ${WALLET} }`;

// The catalog, for the filters' choices.
export const CATALOG = `studios { kind name tools { code name } models { id name } }`;

export const SERIES_ARGUMENTS = '$filter: UsageFilter, $interval: UsageInterval!, $by: UsageDimension, $timeZone: String';
export const SERIES = `periods generations outputs credits refundedCredits
  series { key label other credits totalCredits }`;

export const USAGE_ARGUMENTS = '$first: Int, $after: String, $last: Int, $before: String';
export const USAGE_PAGE = `totalCount totalCredits
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { node { id createdAt studio tool model { id name } count units credits status
    refundedCredits refunds { credits cause createdAt } } }`;

// An account's chart and first page of generations, in one request.
export const ANALYTICS = `series: usageSeries(filter: $filter, interval: $interval, by: $by, top: 8, timeZone: $timeZone) { ${SERIES} }
  usage(filter: $filter, first: $first, after: $after, last: $last, before: $before) { ${USAGE_PAGE} }`;

// The platform (admin): the same chart over every account, and the leaders.
export const PLATFORM = `query Platform(${SERIES_ARGUMENTS}) {
  series: platformUsageSeries(filter: $filter, interval: $interval, by: $by, top: 8, timeZone: $timeZone) { ${SERIES} }
  topAccounts(filter: $filter, limit: 10) { accountId generations credits }
  topModels(filter: $filter, limit: 10) { model { id name } generations credits }
}`;

export const TOKEN_PACKS = `query Packs { tokenPacks { id tokens priceCents } }`;
export const TOP_UPS = `topUps(first: 5) { nodes { id status createdAt checkoutUrl pack { tokens priceCents } } }`;
export const REQUEST_TOP_UP = `mutation RequestTopUp($input: RequestTopUpInput!) {
  requestTopUp(input: $input) { topUp { id status checkoutUrl expiresAt pack { tokens priceCents } } errors { code message } }
}`;

// The user's own daily limit (`daily: null` clears it); the wallet after it.
export const SET_DAILY_LIMIT = `mutation SetDailyLimit($input: SetSpendLimitInput!) {
  setSpendLimit(input: $input) { wallet { ${WALLET} } errors { code field message } }
}`;

export const WALLET_UPDATED = `subscription Wallet($accountId: ID) { walletUpdated(accountId: $accountId) { ${WALLET} } }`;
