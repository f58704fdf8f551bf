//! `[UsageBucket!]!` resolved in one pass over the selection.
//!
//! A year of DAY x MODEL buckets is 5,475 objects and ~38,000 fields. The
//! generic list resolver gives each object and each field a future of its
//! own and runs the schema's extensions around each: ~5 µs a bucket, 30 ms
//! for that summary. Here the selection is read once, each distinct `Model`
//! is resolved once by its own resolver, and the buckets are written
//! straight to JSON text (`super::json`), what many share (keys, models,
//! periods) written once: as `Value` objects they took longer to build,
//! serialize and free than the store took to read them. The schema does
//! not change: the type is registered as `Vec<UsageBucket>` registers it,
//! and tests compare the two resolvers on aliases, fragments,
//! `__typename`, `@skip`, merged fields and repeated keys.
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::EnumType;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerError, ServerResult, Value};
use chrono::{DateTime, Utc};
use foldhash::HashMap as FoldHashMap;

use super::json;
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

    /// The buckets as JSON text, each field as its slot selects it.
    fn write(&self, slots: &[Slot<'_>]) -> Vec<u8> {
        // What is the same for many buckets is written once: each key, each
        // model's object, each period.
        let keys: Vec<Vec<u8>> = slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let mut key = Vec::new();
                json::write_key(&mut key, i, slot.key);
                key
            })
            .collect();
        let models: Vec<FoldHashMap<usize, Vec<u8>>> = slots
            .iter()
            .map(|slot| slot.models.iter().map(|(at, model)| (*at, json::to_vec(model))).collect())
            .collect();
        let typename = <UsageBucket as OutputType>::type_name();
        // Buckets come in time order: each period is formatted once.
        let mut period: Option<(DateTime<Utc>, Vec<u8>)> = None;
        let mut out = Vec::with_capacity(self.0.len() * 24 * (slots.len() + 1));
        out.push(b'[');
        for (i, bucket) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for ((slot, key), models) in slots.iter().zip(&keys).zip(&models) {
                out.extend_from_slice(key);
                match slot.field {
                    Selected::Typename => json::write_str(&mut out, &typename),
                    Selected::PeriodStart => match (bucket.period_start, &period) {
                        (None, _) => out.extend_from_slice(b"null"),
                        (Some(start), Some((last, text))) if start == *last => out.extend_from_slice(text),
                        (Some(start), _) => {
                            let text = &period.insert((start, json::to_vec(&start.to_value()))).1;
                            out.extend_from_slice(text);
                        }
                    },
                    Selected::Studio => match bucket.studio.and_then(enum_name) {
                        Some(name) => json::write_str(&mut out, name),
                        None => out.extend_from_slice(b"null"),
                    },
                    Selected::Tool => match &bucket.tool {
                        Some(tool) => json::write_str(&mut out, tool),
                        None => out.extend_from_slice(b"null"),
                    },
                    Selected::Model(_) => {
                        match bucket.model.as_ref().and_then(|model| models.get(&Arc::as_ptr(model).addr())) {
                            Some(text) => out.extend_from_slice(text),
                            None => out.extend_from_slice(b"null"),
                        }
                    }
                    Selected::Generations => json::write_i64(&mut out, bucket.generations),
                    Selected::Outputs => json::write_i64(&mut out, bucket.outputs),
                    Selected::Credits => json::write_i64(&mut out, bucket.credits),
                }
            }
            out.push(b'}');
        }
        out.push(b']');
        out
    }
}

/// The name a value of a GraphQL enum is written as.
fn enum_name<T: EnumType>(value: T) -> Option<&'static str> {
    T::items().iter().find(|item| item.value == value).map(|item| item.name)
}

/// Whether `field` is the operation's only field of its name under its
/// response key. The executor merges the answers of a repeated key
/// (`usageSummary { credits } usageSummary { tool }`) object by object,
/// which text written ahead cannot take part in.
fn answered_once(ctx: &ContextSelectionSet<'_>, field: &Field) -> bool {
    fn count(set: &SelectionSet, field: &Field) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(f) => {
                    let same =
                        f.node.name.node == field.name.node && f.node.response_key().node == field.response_key().node;
                    usize::from(same) + count(&f.node.selection_set.node, field)
                }
                Selection::InlineFragment(fragment) => count(&fragment.node.selection_set.node, field),
                // Counted where the fragment is defined: a fragment spread
                // twice into one object selects the same thing twice.
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let env = &ctx.query_env;
    let fragments = env.fragments.values().map(|fragment| count(&fragment.node.selection_set.node, field));
    count(&env.operation.node.selection_set.node, field) + fragments.sum::<usize>() == 1
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

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let mut fields = Vec::new();
        selected(ctx, &ctx.item.node, &mut fields)?;
        let slots = self.slots(ctx, fields).await?;
        let text = self.write(&slots);
        if answered_once(ctx, &field.node) {
            return Ok(json::raw(text));
        }
        // Rare: a value the executor can merge with the key's other answers.
        serde_json::from_slice(&text).and_then(Value::from_json).map_err(|error| {
            tracing::error!(%error, "usage buckets written as JSON do not parse");
            ServerError::new("internal error", Some(field.pos))
        })
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
            async move { answer(&schema, &query).await }
        };
        (run("list: generic").await, run("list: fast").await)
    }

    /// The data of `query`'s response as the server writes it.
    async fn answer(schema: &Schema<Query, EmptyMutation, EmptySubscription>, query: &str) -> serde_json::Value {
        let response = schema.execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        json::response_value(&response).unwrap()["data"].take()
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

    #[tokio::test]
    async fn a_repeated_key_merges_its_answers_as_the_generic_resolver_does() {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let repeated = |field: &str| {
            format!(
                "{{ list: {field} {{ credits }} ...more }} fragment more on Query {{ list: {field} {{ tool model {{ id }} }} }}"
            )
        };
        let generic = answer(&schema, &repeated("generic")).await;
        assert_eq!(answer(&schema, &repeated("fast")).await, generic);
        assert_eq!(generic["list"][0], serde_json::json!({ "credits": 40, "tool": "t2i", "model": { "id": "flux" } }));
        // Once, it is written as text.
        let once = schema.execute("{ list: fast { credits } other: fast { credits } }").await;
        assert!(matches!(&once.data, Value::Object(data) if matches!(data["list"], Value::Binary(_))));
    }
}
