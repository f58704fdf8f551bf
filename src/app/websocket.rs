//! GraphQL subscriptions over WebSocket, speaking graphql-transport-ws with
//! its close codes: 4400 (bad message), 4401 (subscribe before the
//! connection is acknowledged), 4403 (bad credentials in `connection_init`),
//! 4406 (wrong subprotocol), 4408 (no `connection_init` in time), 4409 (an
//! id already subscribed), 4429 (a second `connection_init`). A message
//! nested too deep is closed with 4400 before it is parsed; a subscription
//! whose document nests too deep gets an `error` message.
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use async_graphql::Request;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{App, nesting};
use crate::auth::Caller;
use crate::graphql::context::RequestContext;

pub const PROTOCOL: &str = "graphql-transport-ws";
pub const CONNECTION_INIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit { payload: Option<Value> },
    Ping { payload: Option<Value> },
    Pong {},
    Subscribe { id: String, payload: SubscribePayload },
    Complete { id: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    operation_name: Option<String>,
    variables: Option<Value>,
    extensions: Option<Value>,
}

struct Close(u16, String);

/// Runs one connection until either side closes it.
pub async fn serve(app: App, mut socket: WebSocket, protocol: Option<String>, header_context: RequestContext) {
    if protocol.as_deref() != Some(PROTOCOL) {
        close(&mut socket, Close(4406, "Subprotocol not acceptable".into())).await;
        return;
    }
    let close_with = run(&app, &mut socket, header_context).await;
    if let Err(reason) = close_with {
        close(&mut socket, reason).await;
    }
}

/// A close frame's reason is at most 123 bytes: longer ones break clients.
const CLOSE_REASON_LENGTH_MAX: usize = 123;

async fn close(socket: &mut WebSocket, Close(code, mut reason): Close) {
    if reason.len() > CLOSE_REASON_LENGTH_MAX {
        let mut end = CLOSE_REASON_LENGTH_MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
}

async fn send(socket: &mut WebSocket, message: Value) -> Result<(), Close> {
    socket.send(Message::Text(message.to_string().into())).await.map_err(|_| Close(1011, "send failed".into()))
}

async fn run(app: &App, socket: &mut WebSocket, header_context: RequestContext) -> Result<(), Close> {
    let (outgoing, mut results) = mpsc::channel::<(String, Value)>(64);
    let mut operations: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut context: Option<RequestContext> = None;
    let deadline = tokio::time::sleep(CONNECTION_INIT_TIMEOUT);
    tokio::pin!(deadline);
    let outcome = loop {
        tokio::select! {
            () = &mut deadline, if context.is_none() => break Err(Close(4408, "Connection initialisation timeout".into())),
            Some((id, message)) = results.recv() => {
                let complete = message["type"] != "next";
                send(socket, message).await?;
                if complete {
                    operations.remove(&id);
                }
            }
            received = socket.recv() => {
                let text = match received {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break Ok(()),
                    Some(Ok(_)) => continue,
                };
                if let Err(message) = nesting::check_json(text.as_bytes()) {
                    break Err(Close(4400, message));
                }
                let message: ClientMessage = match serde_json::from_str(&text) {
                    Ok(message) => message,
                    Err(error) => break Err(Close(4400, format!("Invalid message: {error}"))),
                };
                match message {
                    ClientMessage::ConnectionInit { payload } => {
                        if context.is_some() {
                            break Err(Close(4429, "Too many initialisation requests".into()));
                        }
                        let authorization = payload.as_ref().and_then(|p| {
                            ["Authorization", "authorization"].iter().find_map(|k| p.get(*k)?.as_str().map(str::to_owned))
                        });
                        let init = match authorization {
                            Some(value) => RequestContext { caller: app.auth.caller(Some(&value)), now: app.clock.now() },
                            None => header_context.clone(),
                        };
                        if matches!(init.caller, Caller::Invalid(_)) {
                            break Err(Close(4403, "Forbidden".into()));
                        }
                        context = Some(init);
                        send(socket, json!({ "type": "connection_ack" })).await?;
                    }
                    ClientMessage::Ping { payload } => {
                        send(socket, json!({ "type": "pong", "payload": payload })).await?;
                    }
                    ClientMessage::Pong {} => {}
                    ClientMessage::Subscribe { id, payload } => {
                        let Some(context) = &context else { break Err(Close(4401, "Unauthorized".into())) };
                        if operations.get(&id).is_some_and(|task| !task.is_finished()) {
                            break Err(Close(4409, format!("Subscriber for {id} already exists")));
                        }
                        if let Err(message) = nesting::check_document(&payload.query) {
                            let errors = super::errors("BAD_REQUEST", &message);
                            send(socket, json!({ "id": id, "type": "error", "payload": errors })).await?;
                            continue;
                        }
                        let request = request(payload).data(context.clone());
                        let operation = execute(app.clone(), id.clone(), request, outgoing.clone());
                        operations.insert(id.clone(), tokio::spawn(catch_panic(id, operation, outgoing.clone())));
                    }
                    ClientMessage::Complete { id } => {
                        if let Some(task) = operations.remove(&id) {
                            task.abort();
                        }
                    }
                }
            }
        }
    };
    for task in operations.into_values() {
        task.abort();
    }
    outcome
}

fn request(payload: SubscribePayload) -> Request {
    let mut request = Request::new(payload.query);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = payload.variables {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    if let Some(Value::Object(extensions)) = payload.extensions {
        for (key, value) in extensions {
            request.extensions.insert(key, async_graphql::Value::from_json(value).unwrap_or_default());
        }
    }
    request
}

/// Streams one operation's results as `next` messages, then `complete`; a
/// request that fails before executing gets one `error` message instead.
async fn execute(app: App, id: String, request: Request, outgoing: mpsc::Sender<(String, Value)>) {
    let mut stream = app.schema.execute_stream(request);
    let mut first = true;
    while let Some(response) = stream.next().await {
        let message = if first && super::failed_before_executing(&response) {
            let _ = outgoing.send((id.clone(), json!({ "id": id, "type": "error", "payload": response.errors }))).await;
            return;
        } else {
            json!({ "id": id, "type": "next", "payload": response })
        };
        first = false;
        if outgoing.send((id.clone(), message)).await.is_err() {
            return;
        }
    }
    let _ = outgoing.send((id.clone(), json!({ "id": id, "type": "complete" }))).await;
}

/// A panic inside one operation ends that operation with an internal
/// error; the connection and its other operations go on.
async fn catch_panic(id: String, operation: impl Future<Output = ()>, outgoing: mpsc::Sender<(String, Value)>) {
    if let Err(panic) = AssertUnwindSafe(operation).catch_unwind().await {
        tracing::error!(detail = super::panic_detail(&*panic), "a subscription panicked");
        let errors = super::errors("INTERNAL_SERVER_ERROR", "internal error");
        let _ = outgoing.send((id.clone(), json!({ "id": id, "type": "error", "payload": errors }))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_operation_ends_with_an_internal_error_for_its_id() {
        let (outgoing, mut results) = mpsc::channel(4);
        catch_panic("7".into(), async { panic!("secret detail") }, outgoing).await;
        let (id, message) = results.recv().await.expect("an error message");
        assert_eq!((id.as_str(), &message["type"], &message["id"]), ("7", &json!("error"), &json!("7")));
        assert_eq!(message["payload"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert!(!message.to_string().contains("secret"), "{message}");
    }
}
