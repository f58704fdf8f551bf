//! Nesting an attacker chooses: lists, objects and both, in literals,
//! variables, selections, fragments, GET parameters and WebSocket messages,
//! at 10, 100, 1,000 and 100,000 levels, sent anonymously to a real server
//! process. Past the limits each is refused with a 400 (or a WebSocket
//! error or close code) before anything parses it, and after every request
//! the process is alive and `/healthz` answers. Bodies are built as text:
//! a `serde_json::Value` that deep would overflow this test's own stack.
use credits::app::nesting::{DOCUMENT_NESTING_MAX, JSON_NESTING_MAX};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::live::{Socket, open, receive, send};
use crate::processes::ServerProcess;
use crate::support::TestDatabase;

const DEPTHS: [usize; 4] = [10, 100, 1_000, 100_000];

/// Big enough that 100,000 levels of any shape reach the nesting check
/// rather than the body limit.
const BODY_LIMIT: &str = "4194304";

#[derive(Clone, Copy, Debug)]
enum Shape {
    Lists,
    Objects,
    Mixed,
}

const SHAPES: [Shape; 3] = [Shape::Lists, Shape::Objects, Shape::Mixed];

impl Shape {
    /// A GraphQL input value `depth` levels deep.
    fn literal(self, depth: usize) -> String {
        match self {
            Shape::Lists => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
            Shape::Objects => format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth)),
            Shape::Mixed => {
                let pairs = depth.div_ceil(2);
                format!("{}1{}", "[{a: ".repeat(pairs), "}]".repeat(pairs))
            }
        }
    }

    /// A JSON value `depth` levels deep.
    fn json(self, depth: usize) -> String {
        match self {
            Shape::Lists => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
            Shape::Objects => format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth)),
            Shape::Mixed => {
                let pairs = depth.div_ceil(2);
                format!("{}1{}", r#"[{"a":"#.repeat(pairs), "}]".repeat(pairs))
            }
        }
    }
}

/// The JSON text of a string.
fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn selections(depth: usize) -> String {
    format!("{{ {}plans {{ code }}{} }}", "viewer { ".repeat(depth), " }".repeat(depth))
}

fn fragments(depth: usize) -> String {
    format!(
        "{{ ...F }} fragment F on Query {{ {}plans {{ code }}{} }}",
        "... on Query { ".repeat(depth),
        " }".repeat(depth)
    )
}

/// A request and whether it nests past a limit.
struct Attack {
    name: String,
    body: String,
    too_deep: bool,
}

fn attacks(depth: usize) -> Vec<Attack> {
    let document_too_deep = depth + 2 > DOCUMENT_NESTING_MAX;
    let json_too_deep = depth + 2 > JSON_NESTING_MAX;
    let mut attacks = Vec::new();
    for shape in SHAPES {
        let query = format!("{{ plans(x: {}) {{ code }} }}", shape.literal(depth));
        attacks.push(Attack {
            name: format!("{shape:?} in a literal"),
            body: format!(r#"{{"query": {}}}"#, quoted(&query)),
            too_deep: document_too_deep,
        });
        attacks.push(Attack {
            name: format!("{shape:?} in variables"),
            body: format!(
                r#"{{"query": "query($x: [Int]) {{ plans {{ code }} }}", "variables": {{"x": {}}}}}"#,
                shape.json(depth)
            ),
            too_deep: json_too_deep,
        });
    }
    attacks.push(Attack {
        name: "selections".into(),
        body: format!(r#"{{"query": {}}}"#, quoted(&selections(depth))),
        too_deep: document_too_deep,
    });
    attacks.push(Attack {
        name: "fragments".into(),
        body: format!(r#"{{"query": {}}}"#, quoted(&fragments(depth))),
        too_deep: document_too_deep,
    });
    attacks.push(Attack {
        name: "a batch of extensions".into(),
        body: format!(
            r#"[{{"query": "{{ plans {{ code }} }}", "extensions": {{"x": {}}}}}]"#,
            Shape::Mixed.json(depth)
        ),
        too_deep: depth + 3 > JSON_NESTING_MAX,
    });
    attacks
}

async fn assert_alive(server: &mut ServerProcess, after: &str) {
    assert!(server.is_alive(), "the process died after {after}");
    let health = reqwest::get(format!("{}/healthz", server.base_url)).await.expect("healthz answers");
    assert_eq!(health.status(), 200, "after {after}");
}

/// Asserts a refusal past the limit, and an ordinary answer within it.
fn assert_answer(name: &str, too_deep: bool, status: u16, body: &str) {
    let shown: String = body.chars().take(300).collect();
    assert!(status < 500, "{name}: status {status}: {shown}");
    assert!(!body.contains("INTERNAL_SERVER_ERROR"), "{name}: {shown}");
    let refused = body.contains("nests more than");
    assert_eq!(refused, too_deep, "{name}: status {status}: {shown}");
    if too_deep {
        assert_eq!(status, 400, "{name}: {shown}");
        let answer: Value = serde_json::from_str(body).expect("a JSON refusal");
        assert!(answer.get("data").is_none(), "{name}: {shown}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{name}");
    }
}

#[tokio::test]
async fn nesting_at_any_depth_in_any_place_is_refused_and_the_process_lives_on() {
    let database = TestDatabase::new().await;
    let mut server = ServerProcess::start_with(&database.options, &[("CREDITS_BODY_LIMIT_BYTES", BODY_LIMIT)]).await;
    let client = reqwest::Client::new();
    let graphql = format!("{}/graphql", server.base_url);

    for depth in DEPTHS {
        for attack in attacks(depth) {
            for accept in ["application/graphql-response+json", "application/json"] {
                let name = format!("{} at {depth} levels, accepting {accept}", attack.name);
                let response = client
                    .post(&graphql)
                    .header("content-type", "application/json")
                    .header("accept", accept)
                    .body(attack.body.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{name}: no answer: {e}"));
                let status = response.status().as_u16();
                assert_answer(&name, attack.too_deep, status, &response.text().await.unwrap_or_default());
                assert_alive(&mut server, &name).await;
            }
        }
        // The same shapes over GET, in the document and in `variables`.
        let literal = format!("{{ plans(x: {}) {{ code }} }}", Shape::Mixed.literal(depth));
        let nested_variables = Shape::Objects.json(depth);
        for (name, params, too_deep) in [
            ("GET literal", vec![("query", literal.as_str())], depth + 2 > DOCUMENT_NESTING_MAX),
            (
                "GET variables",
                vec![("query", "{ plans { code } }"), ("variables", nested_variables.as_str())],
                depth > JSON_NESTING_MAX,
            ),
        ] {
            let name = format!("{name} at {depth} levels");
            let (status, body) = raw_get(&server.base_url, &params).await;
            // A request line past hyper's buffer is refused before any handler (431).
            if status == 431 {
                assert!(depth >= 10_000, "{name}: 431 for a short URL");
            } else {
                assert_answer(&name, too_deep, status, &body);
            }
            assert_alive(&mut server, &name).await;
        }
        websocket_attacks(&mut server, depth).await;
    }
}

/// A GET sent over a plain socket: an HTTP client refuses to build a URL
/// as long as the deepest attacks, but an attacker's socket does not.
async fn raw_get(base_url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let address = base_url.trim_start_matches("http://");
    let query = serde_urlencoded::to_string(params).expect("a query string");
    let request = format!("GET /graphql?{query} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("an answer");
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// A subscribe message whose document nests too deep gets an `error` for
/// its id and the connection goes on; a message whose JSON nests too deep
/// closes the connection with 4400.
async fn websocket_attacks(server: &mut ServerProcess, depth: usize) {
    let mut socket = open(&server.base_url, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut socket).await.expect("ack")["type"], "connection_ack");
    let query = format!("subscription {{ walletUpdated(accountId: {}) {{ balance }} }}", Shape::Lists.literal(depth));
    send(&mut socket, json!({ "id": "deep", "type": "subscribe", "payload": { "query": query } })).await;
    let answer = receive(&mut socket).await.expect("an answer to the subscription");
    assert_eq!((&answer["id"], &answer["type"]), (&json!("deep"), &json!("error")), "{depth} levels: {answer}");
    let refused = answer["payload"][0]["message"].as_str().unwrap_or_default().contains("nests more than");
    assert_eq!(refused, depth + 2 > DOCUMENT_NESTING_MAX, "{depth} levels: {answer}");
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(receive(&mut socket).await.expect("a pong")["type"], "pong", "the connection goes on");
    assert_alive(server, &format!("a subscription nested {depth} levels")).await;

    let message = format!(
        r#"{{"id": "vars", "type": "subscribe", "payload": {{"query": "subscription {{ walletUpdated {{ balance }} }}", "variables": {{"x": {}}}}}}}"#,
        Shape::Mixed.json(depth)
    );
    let too_deep = depth + 3 > JSON_NESTING_MAX;
    send_text(&mut socket, message).await;
    let answer = receive(&mut socket).await.expect("an answer to the message");
    assert_eq!(answer.get("closed") == Some(&json!(4400)), too_deep, "{depth} levels: {answer}");
    assert_alive(server, &format!("a WebSocket message nested {depth} levels")).await;
}

/// Sends text as it is, without building a `Value` of it.
async fn send_text(socket: &mut Socket, text: String) {
    socket.send(Message::Text(text.into())).await.expect("send");
}
