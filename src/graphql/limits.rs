//! Limits on what one document may ask for, beyond depth and complexity:
//! aliases multiply work without adding depth, so they are capped too.
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

pub const QUERY_DEPTH_MAX: usize = 16;
/// Each field costs 1; a dashboard asks for a few hundred at most.
pub const QUERY_COMPLEXITY_MAX: usize = 1_000;
pub const ALIASES_MAX: usize = 100;

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn document_aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = document.operations.iter().map(|(_, op)| aliases(&op.node.selection_set.node)).sum();
    let fragments: usize = document.fragments.values().map(|f| aliases(&f.node.selection_set.node)).sum();
    operations + fragments
}

pub struct AliasLimit;

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimit)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let count = document_aliases(&document);
        if count > ALIASES_MAX {
            return Err(ServerError::new(
                format!("Query has {count} aliases, at most {ALIASES_MAX} are allowed."),
                None,
            ));
        }
        Ok(document)
    }
}
