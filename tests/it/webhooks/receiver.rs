//! A webhook receiver on 127.0.0.1 that checks every signature with an
//! implementation of the Standard Webhooks scheme of its own (not the
//! server's), keeps what it got, and answers 500, or hangs, when told to.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub webhook_id: String,
    pub timestamp: String,
    pub body: String,
    pub content_type: String,
    /// Whether `webhook-signature` matched one of the receiver's secrets.
    pub verified: bool,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    secrets: Vec<String>,
    fail_next: usize,
    hang_next: usize,
    received: Vec<Received>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

pub struct Receiver {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the
/// bytes the `whsec_` secret encodes: the scheme as its specification says.
pub fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (webhook_id, timestamp, signature) =
        (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let (status, hang) = {
        let mut inner = shared.0.lock().unwrap();
        // A header may carry several space-separated signatures.
        let verified = inner.secrets.iter().any(|secret| {
            let expected = expected_signature(secret, &webhook_id, &timestamp, &body);
            signature.split(' ').any(|given| given == expected)
        });
        inner.received.push(Received {
            webhook_id,
            timestamp,
            body: String::from_utf8_lossy(&body).into_owned(),
            content_type: header("content-type"),
            verified,
        });
        let hang = inner.hang_next > 0;
        inner.hang_next = inner.hang_next.saturating_sub(1);
        let fail = inner.fail_next > 0;
        inner.fail_next = inner.fail_next.saturating_sub(1);
        (if fail { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }, hang)
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    status
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Shared::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let address = listener.local_addr().expect("address");
        let router = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        Receiver { url: format!("http://{address}/hook"), shared, task }
    }

    /// A secret the receiver accepts signatures of (after a rotation, both).
    pub fn trust(&self, secret: &str) {
        self.shared.0.lock().unwrap().secrets.push(secret.to_owned());
    }

    /// Answers the next `n` requests 500.
    pub fn fail_next(&self, n: usize) {
        self.shared.0.lock().unwrap().fail_next = n;
    }

    /// Never answers the next `n` requests.
    pub fn hang_next(&self, n: usize) {
        self.shared.0.lock().unwrap().hang_next = n;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.0.lock().unwrap().received.clone()
    }

    /// What was received once at least `n` requests came, waiting at most
    /// `timeout` for them; panics past it.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} requests arrived: {received:#?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[test]
fn the_independent_signature_matches_the_specification_example() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let signature =
        expected_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", br#"{"test": 2432232314}"#);
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
