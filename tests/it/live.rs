//! `walletUpdated` over WebSocket (graphql-transport-ws), and the
//! low-balance threshold a user sets.
use std::time::Duration as StdDuration;

use chrono::Duration;
use credits::auth::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{TestApp, error_code, graphql_error_code, image};

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket on `/graphql` of the server at `base_url` offering `protocol` (or none).
pub async fn open(base_url: &str, protocol: Option<&str>) -> Socket {
    let url = format!("{}/graphql", base_url.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    if let Some(protocol) = protocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
    socket
}

/// Connects and authenticates in `connection_init`, as a browser would.
async fn connect(app: &TestApp, token: &str) -> Socket {
    let mut socket = open(&app.base_url, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::Text(message.to_string().into())).await.expect("send");
}

/// The next message, or None when the server closed; bounded so a missing
/// message fails the test instead of hanging it.
pub async fn receive(socket: &mut Socket) -> Option<Value> {
    loop {
        let message =
            tokio::time::timeout(StdDuration::from_secs(30), socket.next()).await.expect("a message in time")?;
        match message.ok()? {
            Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => return Some(json!({ "closed": frame.map(|f| u16::from(f.code)) })),
            _ => continue,
        }
    }
}

async fn subscribe(socket: &mut Socket, query: &str) {
    assert_eq!(receive(socket).await.unwrap()["type"], "connection_ack");
    send(socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).await;
}

#[tokio::test]
async fn a_user_sees_their_wallet_change_after_a_charge_and_a_hold_time_out() {
    let app = TestApp::start().await;
    app.wallet("alice").await;
    let mut socket = connect(&app, &app.token(Role::User, "alice")).await;
    subscribe(&mut socket, "subscription { walletUpdated { balance held } }").await;
    // The subscription is registered once the server has read the message:
    // a charge from another connection is then published to it.
    let mut pushed = None;
    for attempt in 0..50 {
        app.consume("alice", image(1), &format!("c{attempt}")).await;
        if let Ok(Some(message)) = tokio::time::timeout(StdDuration::from_millis(200), receive(&mut socket)).await {
            pushed = Some(message);
            break;
        }
    }
    let pushed = pushed.expect("a wallet update after a charge");
    assert_eq!(pushed["type"], "next");
    let balance = pushed["payload"]["data"]["walletUpdated"]["balance"].as_i64().unwrap();
    assert!(balance < 50 && (50 - balance) % 3 == 0, "{pushed}");

    let held = app.reserve("alice", image(2), "hold", Some(10)).await;
    assert_eq!(held["errors"], json!([]));
    let update = receive(&mut socket).await.unwrap();
    assert_eq!(update["payload"]["data"]["walletUpdated"]["held"], 6);
    app.advance(Duration::seconds(11));
    app.as_admin("mutation { releaseExpiredHolds }", json!({})).await;
    let update = receive(&mut socket).await.unwrap();
    assert_eq!(update["payload"]["data"]["walletUpdated"], json!({ "balance": balance, "held": 0 }));
}

#[tokio::test]
async fn a_user_may_not_watch_another_account() {
    let app = TestApp::start().await;
    let mut socket = connect(&app, &app.token(Role::User, "alice")).await;
    subscribe(&mut socket, "subscription { walletUpdated(accountId: \"bob\") { balance } }").await;
    let refused = receive(&mut socket).await.unwrap();
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(refused["payload"]["data"], Value::Null);
}

#[tokio::test]
async fn a_bad_token_in_connection_init_closes_the_socket() {
    let app = TestApp::start().await;
    let mut socket = connect(&app, "not-a-token").await;
    assert_eq!(receive(&mut socket).await, Some(json!({ "closed": 4403 })));
}

const SET_THRESHOLD: &str = "mutation($input: SetLowBalanceThresholdInput!) { setLowBalanceThreshold(input: $input) {
    wallet { lowBalance } errors { code field } } }";

#[tokio::test]
async fn a_user_sets_their_own_low_balance_threshold() {
    let app = TestApp::start().await;
    let alice = app.token(Role::User, "alice");
    let set = app.data(Some(&alice), SET_THRESHOLD, json!({ "input": { "threshold": 48 } })).await;
    assert_eq!(set["setLowBalanceThreshold"]["wallet"]["lowBalance"], false);
    let charged = app.consume("alice", image(1), "c1").await;
    assert_eq!((charged["lowBalance"].clone(), charged["wallet"]["lowBalance"].clone()), (json!(true), json!(true)));
    let data = app.data(Some(&alice), "{ viewer { wallet { lowBalance lowBalanceThreshold } } }", json!({})).await;
    assert_eq!(data["viewer"]["wallet"], json!({ "lowBalance": true, "lowBalanceThreshold": 48 }));

    let other =
        app.graphql(Some(&alice), SET_THRESHOLD, json!({ "input": { "accountId": "bob", "threshold": 5 } })).await;
    assert_eq!(graphql_error_code(&other), json!("FORBIDDEN"));
    let bad = app.data(Some(&alice), SET_THRESHOLD, json!({ "input": { "threshold": -1 } })).await;
    assert_eq!(error_code(&bad["setLowBalanceThreshold"]), json!("INVALID_INPUT"));
    let service = app.as_service(SET_THRESHOLD, json!({ "input": { "accountId": "alice", "threshold": null } })).await;
    assert_eq!(service["setLowBalanceThreshold"]["wallet"]["lowBalance"], false, "back to the default of 20");
}
