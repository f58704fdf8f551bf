//! `quote`: what a generation costs and whether the caller could run it now.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::checks::{Checked, query_check};
use super::context::{GraphqlResult, caller, now, require_account_access, store};
use super::errors::{UserErrorCode, graphql_error};
use crate::auth::Caller;
use crate::domain::pricing::{GenerationRequest, price};
use crate::domain::quote::{Payer, Spendable, verdict};
use crate::domain::text::ACCOUNT_ID;
use crate::error::Error;

#[derive(InputObject, Clone, Debug)]
pub struct GenerationOptionInput {
    pub name: String,
    pub value: String,
}

/// Outputs of a generation that names none. The contract's defaults are
/// nullable (`count: Int = 1`), so an explicit null asks for the default too.
const COUNT_DEFAULT: i32 = 1;

#[derive(InputObject, Clone, Debug)]
pub struct GenerationInput {
    /// A tool code from the catalog, e.g. "text-to-image".
    pub tool: String,
    /// Required where the tool is priced per model.
    pub model_id: Option<ID>,
    /// Number of outputs; null means the default.
    #[graphql(default_with = "Some(COUNT_DEFAULT)")]
    pub count: Option<i32>,
    /// For per-second tools (video, music).
    pub duration_seconds: Option<i32>,
    /// For per-thousand-character tools (voice).
    pub characters: Option<i32>,
    pub options: Option<Vec<GenerationOptionInput>>,
}

impl From<GenerationInput> for GenerationRequest {
    fn from(input: GenerationInput) -> Self {
        GenerationRequest {
            tool: input.tool,
            model_id: input.model_id.map(|id| id.0),
            count: input.count.unwrap_or(COUNT_DEFAULT).into(),
            duration_seconds: input.duration_seconds.map(i64::from),
            characters: input.characters.map(i64::from),
            options: input.options.unwrap_or_default().into_iter().map(|o| (o.name, o.value)).collect(),
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Quote {
    pub credits: i64,
    pub credits_per_output: i64,
    /// Whether the caller could run it now (plan entitlement, spend limits and balance).
    pub allowed: bool,
    /// Why not, when not allowed.
    pub reason: Option<UserErrorCode>,
    /// Credits that could pay for this generation now.
    pub available: i64,
}

#[derive(Default)]
pub struct QuoteQuery;

#[Object]
impl QuoteQuery {
    /// Prices a generation with the same function that charges it. An
    /// anonymous caller is answered as a new Free account; a user for their
    /// own account; a service or admin for `accountId` (or as a new account).
    async fn quote(&self, ctx: &Context<'_>, input: GenerationInput, account_id: Option<ID>) -> GraphqlResult<Quote> {
        let store = store(ctx)?;
        query_check(input.check())?;
        query_check(ACCOUNT_ID.check_optional(account_id.as_deref().map(String::as_str)))?;
        let request = GenerationRequest::from(input);
        let priced = price(&store.catalog(), &request, now(ctx)?).map_err(|e| graphql_error(Error::Domain(e)))?;
        let account = match (caller(ctx)?, account_id) {
            (_, Some(id)) => {
                require_account_access(ctx, &id)?;
                Some(id.0)
            }
            (Caller::Authenticated { account_id, .. }, None) => Some(account_id.clone()),
            _ => None,
        };
        let payer = match account {
            Some(id) => {
                let snapshot = store.account(&id, now(ctx)?).await.map_err(graphql_error)?;
                let wallet = &snapshot.wallet;
                let spendable = Spendable { balance: wallet.balance, pro_balance: wallet.pro_balance };
                let spend_limit = &wallet.spend_limit;
                Payer {
                    entitlement: snapshot.entitlement,
                    spendable,
                    limits: spend_limit.effective,
                    spent_today: spend_limit.daily_spent.unwrap_or_default(),
                }
            }
            None => Payer::new_account(&store.catalog(), store.rules()),
        };
        let verdict = verdict(&priced, &payer);
        Ok(Quote {
            credits: priced.credits.get(),
            credits_per_output: priced.credits_per_output.get(),
            allowed: verdict.allowed(),
            reason: verdict.refusal.map(|refusal| refusal.code().into()),
            available: verdict.available.get(),
        })
    }
}
