//! One attempt: the body, built from the stored event so every attempt and
//! replay sends the same bytes, its signature, and the POST.
use chrono::{DateTime, Utc};

use crate::clock::from_ms;
use crate::domain::events::timestamp;
use crate::domain::webhooks::delivered;
use crate::error::Error;
use crate::store::webhooks::{Claimed, Outcome, public_event_id};

use super::signature::sign;

/// `{"type":..., "timestamp":..., "data":{...}}`, the data as stored.
pub fn body(claimed: &Claimed) -> String {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    format!(
        r#"{{"type":{},"timestamp":{},"data":{}}}"#,
        quoted(&claimed.event_type),
        quoted(&timestamp(from_ms(claimed.event_created_at_ms))),
        claimed.data
    )
}

/// Posts the claimed delivery, signed for `now`, and says what came of it.
pub async fn post(client: &reqwest::Client, claimed: &Claimed, now: DateTime<Utc>) -> Outcome {
    let secret = match &claimed.secret {
        Ok(secret) => secret,
        Err(error) => return failed(None, detail(error)),
    };
    let body = body(claimed);
    let id = public_event_id(claimed.event_id);
    let seconds = now.timestamp();
    let signature = match sign(secret, &id, seconds, body.as_bytes()) {
        Ok(signature) => signature,
        Err(error) => return failed(None, detail(&error)),
    };
    let request = client
        .post(&claimed.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", seconds.to_string())
        .header("webhook-signature", signature)
        .body(body);
    match request.send().await {
        Ok(response) if delivered(response.status().as_u16()) => {
            Outcome::Delivered { status: response.status().as_u16() }
        }
        Ok(response) => {
            let status = response.status();
            failed(Some(status.as_u16()), format!("the endpoint answered {status}"))
        }
        Err(error) if error.is_timeout() => failed(None, "the endpoint did not answer in time".into()),
        Err(error) if error.is_connect() => failed(None, format!("could not connect: {error}")),
        Err(error) => failed(None, format!("the request failed: {error}")),
    }
}

/// Why an attempt could not be made, for `last_error` (admins' eyes only).
fn detail(error: &Error) -> String {
    match error {
        Error::Internal(detail) | Error::Unavailable(detail) => detail.clone(),
        other => other.to_string(),
    }
}

fn failed(status: Option<u16>, error: String) -> Outcome {
    Outcome::Failed { status, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_stored_data_under_type_and_timestamp() {
        let claimed = Claimed {
            delivery_id: 1,
            attempt: 1,
            event_id: 7,
            event_type: "tokens.purchased".into(),
            data: r#"{"accountId":"a","tokens":500}"#.into(),
            event_created_at_ms: 1_773_144_000_123,
            url: "http://x/".into(),
            secret: Ok("whsec_AAAA".into()),
        };
        assert_eq!(
            body(&claimed),
            r#"{"type":"tokens.purchased","timestamp":"2026-03-10T12:00:00.123Z","data":{"accountId":"a","tokens":500}}"#
        );
    }
}
