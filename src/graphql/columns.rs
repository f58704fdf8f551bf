//! A column of scalars, the shape of chart data: `[Int!]!` or
//! `[DateTime!]!` in the schema like a `Vec`, answered as one list at once.
//! A `Vec` resolves each element as a field of its own (a future, the
//! extensions' hooks, an error path); a year of days by eight models is ten
//! thousand of them, and its series took several times its store's time to
//! answer. A scalar cannot fail to resolve and has no selection, so nothing
//! of that is needed here.
use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ScalarType, ServerResult, Value};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Column<T>(pub Vec<T>);

impl<T: ScalarType + OutputType> OutputType for Column<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<T>::create_type_info(registry)
    }

    async fn resolve(&self, _ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        Ok(Value::List(self.0.iter().map(ScalarType::to_value).collect()))
    }
}
