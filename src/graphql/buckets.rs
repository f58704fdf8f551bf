//! `[UsageBucket!]!` resolved in one pass over the selection.
//!
//! A year of DAY x MODEL buckets is 5,475 objects and ~38,000 fields. The
//! generic list resolver gives each object and each field a future of its
//! own and runs the schema's extensions around each: ~5 µs a bucket, 30 ms
//! for that summary. Here the selection is read once and every bucket is
//! built from it directly, as a copy of one template object whose keys are
//! hashed once; each distinct `Model` is resolved once, by its own
//! resolver, and shared. The schema does not change: the type is
//! registered as `Vec<UsageBucket>` registers it, and a test compares the two
//! resolvers on aliases, fragments, `__typename`, `@skip` and merged fields.
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::enum_value;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerError, ServerResult, Value};
use chrono::{DateTime, Utc};
use foldhash::HashMap as FoldHashMap;

use super::usage::UsageBucket;

/// The buckets of a usage summary.
pub struct UsageBuckets(pub Vec<UsageBucket>);

/// A field of `UsageBucket` as selected, under its response key.
enum Selected<'a> {
    Typename,
    PeriodStart,
    Studio,
    Tool,
    Model(&'a Positioned<Field>),
    Generations,
    Outputs,
    Credits,
}

/// The fields of `selection_set` in order, fragments spread. Validation has
/// made sure every field exists and every fragment applies to `UsageBucket`;
/// `@skip` and `@include` were applied before execution.
fn selected<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    into: &mut Vec<(&'a Name, Selected<'a>)>,
) -> ServerResult<()> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let selected = match field.node.name.node.as_str() {
                    "__typename" => Selected::Typename,
                    "periodStart" => Selected::PeriodStart,
                    "studio" => Selected::Studio,
                    "tool" => Selected::Tool,
                    "model" => Selected::Model(field),
                    "generations" => Selected::Generations,
                    "outputs" => Selected::Outputs,
                    "credits" => Selected::Credits,
                    // A field added to `UsageBucket` must be added here too.
                    other => {
                        let message = format!("UsageBucket.{other} is not resolved for lists of buckets");
                        return Err(ServerError::new(message, Some(field.pos)));
                    }
                };
                into.push((&field.node.response_key().node, selected));
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node) {
                    selected(ctx, &fragment.node.selection_set.node, into)?;
                }
            }
            Selection::InlineFragment(fragment) => selected(ctx, &fragment.node.selection_set.node, into)?,
        }
    }
    Ok(())
}

/// Inserts `value` under `key`, merging objects a repeated key selected
/// (`model { id } model { name }`), as the executor does.
fn insert(object: &mut IndexMap<Name, Value>, key: &Name, value: Value) {
    match object.get_mut(key) {
        Some(existing) => merge(existing, value),
        None => {
            object.insert(key.clone(), value);
        }
    }
}

/// Merges `value` into an object selected under the same key before;
/// anything else keeps the value it has.
fn merge(existing: &mut Value, value: Value) {
    if let (Value::Object(existing), Value::Object(more)) = (existing, value) {
        for (key, value) in more {
            insert(existing, &key, value);
        }
    }
}

/// A response key of every bucket: the field selected under it, and for
/// `model`, each model's object (the key's selections merged), by the
/// address of the `Model` that its buckets share.
struct Slot<'a> {
    key: &'a Name,
    field: Selected<'a>,
    models: FoldHashMap<usize, Value>,
}

impl UsageBuckets {
    /// Each distinct model of the buckets as `field` selects it.
    async fn models(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<FoldHashMap<usize, Value>> {
        let ctx_field = ctx.with_field(field);
        let ctx_model = ctx_field.with_selection_set(&field.node.selection_set);
        let mut models = FoldHashMap::default();
        for model in self.0.iter().filter_map(|bucket| bucket.model.as_ref()) {
            if let Entry::Vacant(entry) = models.entry(Arc::as_ptr(model).addr()) {
                entry.insert(OutputType::resolve(model.as_ref(), &ctx_model, field).await?);
            }
        }
        Ok(models)
    }

    /// The response keys in order. Validation has made sure that a repeated
    /// key selects the same field each time: only `model` objects merge.
    async fn slots<'a>(
        &self,
        ctx: &ContextSelectionSet<'a>,
        fields: Vec<(&'a Name, Selected<'a>)>,
    ) -> ServerResult<Vec<Slot<'a>>> {
        let mut slots: Vec<Slot<'a>> = Vec::new();
        for (key, field) in fields {
            let models = match field {
                Selected::Model(model) => self.models(ctx, model).await?,
                _ => FoldHashMap::default(),
            };
            match slots.iter_mut().find(|slot| slot.key == key) {
                Some(slot) => {
                    for (model, value) in models {
                        if let Some(existing) = slot.models.get_mut(&model) {
                            merge(existing, value);
                        }
                    }
                }
                None => slots.push(Slot { key, field, models }),
            }
        }
        Ok(slots)
    }
}

impl OutputType for UsageBuckets {
    fn type_name() -> Cow<'static, str> {
        <Vec<UsageBucket> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<UsageBucket> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<UsageBucket> as OutputType>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        let mut fields = Vec::new();
        selected(ctx, &ctx.item.node, &mut fields)?;
        let slots = self.slots(ctx, fields).await?;
        // Every bucket's object is a copy of this one with its values set:
        // no key is hashed again.
        let template: IndexMap<Name, Value> = slots.iter().map(|slot| (slot.key.clone(), Value::Null)).collect();
        let typename = Value::String(<UsageBucket as OutputType>::type_name().into_owned());
        // Buckets come in time order: each period is formatted once.
        let mut period: Option<(DateTime<Utc>, Value)> = None;
        let buckets = self.0.iter().map(|bucket| {
            let mut object = template.clone();
            for (slot, (_, value)) in slots.iter().zip(object.iter_mut()) {
                *value = match slot.field {
                    Selected::Typename => typename.clone(),
                    Selected::PeriodStart => match (bucket.period_start, &period) {
                        (None, _) => Value::Null,
                        (Some(start), Some((last, value))) if start == *last => value.clone(),
                        (Some(start), _) => period.insert((start, start.to_value())).1.clone(),
                    },
                    Selected::Studio => bucket.studio.map_or(Value::Null, enum_value),
                    Selected::Tool => bucket.tool.clone().map_or(Value::Null, Value::String),
                    Selected::Model(_) => bucket
                        .model
                        .as_ref()
                        .and_then(|model| slot.models.get(&Arc::as_ptr(model).addr()).cloned())
                        .unwrap_or(Value::Null),
                    Selected::Generations => Value::from(bucket.generations),
                    Selected::Outputs => Value::from(bucket.outputs),
                    Selected::Credits => Value::from(bucket.credits),
                };
            }
            Value::Object(object)
        });
        Ok(Value::List(buckets.collect()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema};
    use chrono::TimeZone;

    use super::*;
    use crate::graphql::catalog::{Model, StudioKind};

    fn sample() -> Vec<UsageBucket> {
        let model = |id: &str, studio| {
            Arc::new(Model {
                id: ID(id.into()),
                name: format!("{id} name"),
                studio,
                pro: id.ends_with("pro"),
                tools: vec!["t2i".into()],
            })
        };
        let (flux, veo) = (model("flux", StudioKind::Image), model("veo-pro", StudioKind::Video));
        let day = |d| Some(Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap());
        let bucket = |period_start, studio, tool: Option<&str>, model: Option<&Arc<Model>>, credits| UsageBucket {
            period_start,
            studio,
            tool: tool.map(Into::into),
            model: model.cloned(),
            generations: credits / 2,
            outputs: credits / 3,
            credits,
        };
        vec![
            bucket(day(1), Some(StudioKind::Image), Some("t2i"), Some(&flux), 40),
            bucket(day(1), Some(StudioKind::Video), Some("i2v"), Some(&veo), 30),
            bucket(day(2), None, None, Some(&flux), 20),
            bucket(day(2), None, None, None, 10),
            bucket(None, Some(StudioKind::Image), None, Some(&veo), 5),
        ]
    }

    struct Query;

    #[Object]
    impl Query {
        /// The generic list resolver.
        async fn generic(&self) -> Vec<UsageBucket> {
            sample()
        }

        async fn fast(&self) -> UsageBuckets {
            UsageBuckets(sample())
        }
    }

    async fn both(selection: &str, fragments: &str) -> (serde_json::Value, serde_json::Value) {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let run = |field: &str| {
            let variables = if selection.contains("$no") { "($no: Boolean = false)" } else { "" };
            let query = format!("query{variables} {{ {field} {selection} }} {fragments}");
            let schema = schema.clone();
            async move {
                let response = schema.execute(query).await;
                assert!(response.errors.is_empty(), "{:?}", response.errors);
                response.data.into_json().unwrap()
            }
        };
        (run("list: generic").await, run("list: fast").await)
    }

    #[tokio::test]
    async fn the_one_pass_resolver_answers_as_the_generic_one() {
        // Every field of `UsageBucket` and of `Model`, read from the schema,
        // so a field added to either is compared too.
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let fields = |type_name: &'static str| {
            let schema = schema.clone();
            async move {
                let query = format!("{{ __type(name: \"{type_name}\") {{ fields {{ name }} }} }}");
                let data = schema.execute(query).await.data.into_json().unwrap();
                let fields = data["__type"]["fields"].as_array().unwrap().iter();
                fields.map(|f| f["name"].as_str().unwrap().to_owned()).collect::<Vec<String>>()
            }
        };
        let model = format!("{{ {} __typename }}", fields("Model").await.join(" "));
        let every: Vec<String> = fields("UsageBucket")
            .await
            .into_iter()
            .map(|f| if f == "model" { format!("model {model}") } else { f })
            .collect();
        assert!(every.len() >= 7, "{every:?}");
        let shapes = [
            (format!("{{ {} __typename }}", every.join(" ")), String::new()),
            ("{ credits c: credits at: periodStart model { id } m: model { name } }".into(), String::new()),
            (
                "{ ...counts model { id } ... on UsageBucket { model { name pro } tool } }".into(),
                "fragment counts on UsageBucket { generations outputs credits studio }".into(),
            ),
            (
                "{ credits @skip(if: true) outputs @include(if: $no) studio model @include(if: true) { studio } }"
                    .into(),
                String::new(),
            ),
        ];
        for (selection, fragments) in shapes {
            let (generic, fast) = both(&selection, &fragments).await;
            assert_eq!(fast, generic, "{selection}");
            assert_eq!(fast["list"].as_array().map(Vec::len), Some(5), "{selection}");
        }
    }
}
