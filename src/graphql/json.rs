//! Responses as JSON text, with text written ahead put in as it is.
//!
//! A year of DAY x MODEL buckets is 5,475 objects: as `Value`s they took
//! longer to build, serialize and free than the store took to read them.
//! `UsageBuckets` writes them as JSON text instead and hands that over as
//! `Value::Binary`, which nothing else in this schema returns (it has no
//! binary scalar). Every response leaves through the writers here, over
//! HTTP and WebSocket alike, and they write such a value's bytes as they are.
use async_graphql::{Response, Value};
use bytes::Bytes;
use serde::Serialize;

/// JSON text written ahead, to go into the response as it is.
pub fn raw(json: Vec<u8>) -> Value {
    Value::Binary(Bytes::from(json))
}

/// The response as async-graphql's `Serialize` writes it, with raw text in.
pub fn response(response: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    write_response(&mut out, response);
    out
}

/// A batch's responses, as a JSON array.
pub fn responses(responses: &[Response]) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(b'[');
    for (i, response) in responses.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_response(&mut out, response);
    }
    out.push(b']');
    out
}

/// The response as a JSON value, for messages built around it (WebSocket).
pub fn response_value(response: &Response) -> serde_json::Result<serde_json::Value> {
    serde_json::from_slice(&self::response(response))
}

/// `value` as JSON text.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

fn write_response(out: &mut Vec<u8>, response: &Response) {
    // The fields and their order of `Response`'s derived `Serialize`.
    out.extend_from_slice(b"{\"data\":");
    write_value(out, &response.data);
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":{");
        for (i, (name, value)) in response.extensions.iter().enumerate() {
            write_key(out, i, name);
            write_value(out, value);
        }
        out.push(b'}');
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        write_serde(out, &response.errors);
    }
    out.push(b'}');
}

/// `value` as async-graphql's `Serialize` writes it, but raw text as it is.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_serde(out, number),
        Value::String(text) => write_str(out, text),
        Value::Enum(name) => write_str(out, name),
        Value::Binary(json) => out.extend_from_slice(json),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (i, (name, value)) in fields.iter().enumerate() {
                write_key(out, i, name);
                write_value(out, value);
            }
            out.push(b'}');
        }
    }
}

/// `"name":`, after a comma unless it is the object's first (`i` 0).
pub fn write_key(out: &mut Vec<u8>, i: usize, name: &str) {
    if i > 0 {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
}

/// `text` as a JSON string, escaped.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    write_serde(out, text);
}

/// `number` as JSON, without `fmt`'s machinery (three per bucket).
pub fn write_i64(out: &mut Vec<u8>, number: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
}

fn write_serde<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Strings, numbers and errors always serialize, and a Vec takes every
    // write: there is no failure to pass on.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, ServerError};
    use serde_json::json;

    use super::*;

    #[test]
    fn responses_are_written_as_serde_writes_them_with_raw_text_as_it_is() {
        let object = |fields: Vec<(&str, Value)>| {
            Value::Object(fields.into_iter().map(|(k, v)| (Name::new(k), v)).collect::<IndexMap<_, _>>())
        };
        let data = object(vec![
            ("n", Value::Null),
            ("b", Value::Boolean(true)),
            ("f", Value::Boolean(false)),
            ("i", Value::from(-42)),
            ("x", Value::from(1.5)),
            ("s", Value::from("quote \" backslash \\ newline \n nul \u{0} é")),
            ("e", Value::Enum(Name::new("IMAGE"))),
            ("l", Value::List(vec![Value::from(1), object(vec![("k\"", Value::from("v"))]), Value::List(vec![])])),
            ("o", object(vec![])),
        ]);
        let mut response = Response::new(data.clone());
        let plain = serde_json::to_value(&response).unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&super::response(&response)).unwrap(), plain);

        response.errors.push(ServerError::new("boom", None));
        response.extensions.insert("trace".into(), Value::from("t"));
        let plain = serde_json::to_value(&response).unwrap();
        assert_eq!(response_value(&response).unwrap(), plain);
        assert_eq!(plain["errors"][0]["message"], "boom");

        let raw = object(vec![("summary", super::raw(br#"[{"credits":3},{"credits":4}]"#.to_vec()))]);
        let written: serde_json::Value = serde_json::from_slice(&super::response(&Response::new(raw))).unwrap();
        assert_eq!(written, json!({ "data": { "summary": [{ "credits": 3 }, { "credits": 4 }] } }));

        let batch: serde_json::Value = serde_json::from_slice(&responses(&[Response::new(data), response])).unwrap();
        assert_eq!(batch[1], plain);
        assert_eq!(batch.as_array().map(Vec::len), Some(2));
    }
}
