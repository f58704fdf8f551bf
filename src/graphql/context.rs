//! What a resolver may know of its request: the store, the caller, and the
//! time read once at the edge; and who may do what (DESIGN.md, section 2).
use async_graphql::Context;
use chrono::{DateTime, Utc};

use super::errors::graphql_error;
use crate::auth::{Caller, Role};
use crate::clock::Clock;
use crate::error::Error;
use crate::store::Store;

/// Per request: who asks and when.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub caller: Caller,
    pub now: DateTime<Utc>,
}

pub type GraphqlResult<T> = async_graphql::Result<T>;

pub fn store<'a>(ctx: &Context<'a>) -> GraphqlResult<&'a Store> {
    ctx.data::<Store>().map_err(|_| graphql_error(Error::internal("the schema has no store")))
}

/// The time of this request; subscriptions, which outlive one instant, read
/// the clock instead.
pub fn now(ctx: &Context<'_>) -> GraphqlResult<DateTime<Utc>> {
    if let Ok(request) = ctx.data::<RequestContext>() {
        return Ok(request.now);
    }
    ctx.data::<Clock>().map(Clock::now).map_err(|_| graphql_error(Error::internal("the schema has no clock")))
}

/// The caller; credentials that were sent but are bad fail every field that
/// asks, rather than silently answering as anonymous.
pub fn caller<'a>(ctx: &Context<'a>) -> GraphqlResult<&'a Caller> {
    let caller = ctx
        .data::<RequestContext>()
        .map(|request| &request.caller)
        .map_err(|_| graphql_error(Error::internal("the request has no context")))?;
    match caller {
        Caller::Invalid(reason) => Err(graphql_error(Error::Unauthenticated(reason.clone()))),
        _ => Ok(caller),
    }
}

/// The caller's own account id and role, for any authenticated role.
pub fn authenticated<'a>(ctx: &Context<'a>) -> GraphqlResult<(&'a str, Role)> {
    match caller(ctx)? {
        Caller::Authenticated { account_id, role } => Ok((account_id.as_str(), *role)),
        _ => Err(graphql_error(Error::Unauthenticated("this needs a bearer token".into()))),
    }
}

/// Allows the roles given, refuses the rest with FORBIDDEN.
pub fn require(ctx: &Context<'_>, roles: &[Role], what: &str) -> GraphqlResult<()> {
    let (_, role) = authenticated(ctx)?;
    if roles.contains(&role) {
        Ok(())
    } else {
        Err(graphql_error(Error::Forbidden(format!("{what} is not allowed for role {role:?}").to_lowercase())))
    }
}

/// Backends (service) and admins act on any account.
pub fn require_backend(ctx: &Context<'_>, what: &str) -> GraphqlResult<()> {
    require(ctx, &[Role::Service, Role::Admin], what)
}

pub fn require_admin(ctx: &Context<'_>, what: &str) -> GraphqlResult<()> {
    require(ctx, &[Role::Admin], what)
}

/// Users see their own account only; service and admin see any.
pub fn require_account_access(ctx: &Context<'_>, account_id: &str) -> GraphqlResult<()> {
    let (own, role) = authenticated(ctx)?;
    if role != Role::User || own == account_id {
        Ok(())
    } else {
        Err(graphql_error(Error::Forbidden("a user may only see their own account".into())))
    }
}
