//! `TestApp`: the real router served on port 0 over a fresh database, with a
//! clock the test sets. SQLite by default; PostgreSQL (one schema per test,
//! so tests run in parallel) when `CREDITS_TEST_POSTGRES_URL` is set.
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use credits::app::{App, AppOptions};
use credits::auth::Role;
use credits::clock::Clock;
use credits::domain::rules::Rules;
use credits::store::DatabaseOptions;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub const POSTGRES_ENV: &str = "CREDITS_TEST_POSTGRES_URL";
pub const SECRET: &str = "test-secret";

/// The instant every test starts at: a Tuesday, mid-month, mid-day.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

pub struct TestDatabase {
    pub options: DatabaseOptions,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// The PostgreSQL test database, if the suite runs on one.
    pub fn postgres_url() -> Option<String> {
        std::env::var(POSTGRES_ENV).ok().filter(|url| !url.is_empty())
    }

    pub async fn new() -> TestDatabase {
        match std::env::var(POSTGRES_ENV).ok().filter(|url| !url.is_empty()) {
            Some(url) => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let db = Database::connect(&url).await.expect("connect to the test PostgreSQL");
                db.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await.expect("create schema");
                db.close().await.ok();
                TestDatabase {
                    options: options(url.clone(), Some(schema.clone())),
                    _dir: None,
                    postgres: Some((url, schema)),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/credits.db?mode=rwc", dir.path().display());
                TestDatabase { options: options(url, None), _dir: Some(dir), postgres: None }
            }
        }
    }
}

fn options(url: String, schema: Option<String>) -> DatabaseOptions {
    DatabaseOptions { url, schema, max_connections: 8, acquire_timeout: Duration::from_secs(10) }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.postgres.take() {
            // Drop runs outside any runtime guarantee: clean up on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                runtime.block_on(async {
                    let db = Database::connect(&url).await.ok()?;
                    // The app's runtime is blocked in this drop: a transaction it
                    // had open (a background task's, cut off by the drop) would
                    // hold its locks, and DROP SCHEMA would wait for it forever.
                    let holders = format!(
                        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{schema}' AND l.pid <> pg_backend_pid()"
                    );
                    db.execute_unprepared(&holders).await.ok()?;
                    db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.ok()?;
                    db.close().await.ok()
                })
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base_url: String,
    pub app: App,
    pub clock: Clock,
    client: reqwest::Client,
    pub database: std::sync::Arc<TestDatabase>,
    server: tokio::task::JoinHandle<()>,
    webhooks: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        self.webhooks.abort();
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(Rules::default()).await
    }

    pub async fn start_with(rules: Rules) -> TestApp {
        let database = std::sync::Arc::new(TestDatabase::new().await);
        TestApp::serve(database, rules, Clock::manual(start_time())).await
    }

    /// A server over `database` as given (e.g. reached through a proxy).
    pub async fn start_on(database: TestDatabase) -> TestApp {
        TestApp::serve(std::sync::Arc::new(database), Rules::default(), Clock::manual(start_time())).await
    }

    /// Another server over the same database, as a second process would be:
    /// its own pools, its own port, the same clock.
    pub async fn second_instance(&self) -> TestApp {
        TestApp::serve(self.database.clone(), self.app.store.rules().clone(), self.clock.clone()).await
    }

    async fn serve(database: std::sync::Arc<TestDatabase>, rules: Rules, clock: Clock) -> TestApp {
        TestApp::serve_with(database, rules, clock, credits::config::WebhookOptions::default()).await
    }

    /// A server whose webhooks are configured as given (a sealing key, ...).
    pub async fn start_with_webhooks(webhooks: credits::config::WebhookOptions) -> TestApp {
        let database = std::sync::Arc::new(TestDatabase::new().await);
        TestApp::serve_with(database, Rules::default(), Clock::manual(start_time()), webhooks).await
    }

    async fn serve_with(
        database: std::sync::Arc<TestDatabase>,
        rules: Rules,
        clock: Clock,
        webhooks: credits::config::WebhookOptions,
    ) -> TestApp {
        let options = AppOptions {
            database: database.options.clone(),
            rules,
            jwt_secret: Some(SECRET.into()),
            limits: credits::app::RequestLimits::default(),
            webhooks,
        };
        let app = App::new(options, clock.clone()).await.expect("start the app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let router = app.router();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        let webhooks = app.spawn_webhook_worker().expect("start the webhook worker");
        TestApp {
            base_url: format!("http://{address}"),
            app,
            clock,
            client: reqwest::Client::new(),
            database,
            server,
            webhooks,
        }
    }

    /// Runs `credits <args>` on this app's database, as an operator would.
    pub async fn command(&self, args: &[&str]) -> std::process::Output {
        let options = &self.database.options;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_credits"));
        command.args(args).args(["--database-url", &options.url]);
        if let Some(schema) = &options.schema {
            command.args(["--database-schema", schema]);
        }
        tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run credits")
    }

    pub fn token(&self, role: Role, sub: &str) -> String {
        self.app.auth.issue(role, sub, None).expect("token")
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// The whole GraphQL response, with the bearer token given (if any).
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self.client.post(format!("{}/graphql", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.json(&json!({ "query": query, "variables": variables })).send().await.expect("send");
        response.json().await.expect("a JSON response")
    }

    /// `data` of a request that must succeed.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let response = self.graphql(token, query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"].clone()
    }

    pub async fn as_admin(&self, query: &str, variables: Value) -> Value {
        self.data(Some(&self.token(Role::Admin, "admin")), query, variables).await
    }

    pub async fn as_service(&self, query: &str, variables: Value) -> Value {
        self.data(Some(&self.token(Role::Service, "generation-backend")), query, variables).await
    }

    pub async fn wallet(&self, account: &str) -> Value {
        let query = format!("query($id: ID!) {{ account(id: $id) {{ wallet {{ {WALLET} }} }} }}");
        self.as_service(&query, json!({ "id": account })).await["account"]["wallet"].clone()
    }

    pub async fn balance(&self, account: &str) -> i64 {
        self.wallet(account).await["balance"].as_i64().expect("balance")
    }

    /// Charges a generation; returns the payload.
    pub async fn consume(&self, account: &str, generation: Value, key: &str) -> Value {
        let query = format!(
            "mutation($input: ConsumeCreditsInput!) {{ consumeCredits(input: $input) {{
                usageEvent {{ {USAGE_EVENT} }} wallet {{ {WALLET} }} lowBalance errors {{ {ERRORS} }} }} }}"
        );
        let input = json!({ "accountId": account, "generation": generation, "idempotencyKey": key });
        self.as_service(&query, json!({ "input": input })).await["consumeCredits"].clone()
    }

    pub async fn subscribe(&self, account: &str, plan: &str, payment_reference: &str) -> Value {
        let query = format!(
            "mutation($input: SubscribeInput!) {{ subscribe(input: $input) {{
                subscription {{ {SUBSCRIPTION} }} wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        let input = json!({ "accountId": account, "planCode": plan, "paymentReference": payment_reference });
        self.as_service(&query, json!({ "input": input })).await["subscribe"].clone()
    }

    pub async fn cancel(&self, account: &str, at_period_end: bool) -> Value {
        let query = format!(
            "mutation($input: CancelSubscriptionInput!) {{ cancelSubscription(input: $input) {{
                subscription {{ {SUBSCRIPTION} }} wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        let input = json!({ "accountId": account, "atPeriodEnd": at_period_end });
        self.as_service(&query, json!({ "input": input })).await["cancelSubscription"].clone()
    }

    pub async fn purchase(&self, account: &str, pack: &str, payment_reference: &str, key: &str) -> Value {
        let query = format!(
            "mutation($input: PurchaseTokensInput!) {{ purchaseTokens(input: $input) {{
                lot {{ id source granted remaining expiresAt proEligible }} wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        let input = json!({ "accountId": account, "packId": pack, "paymentReference": payment_reference, "idempotencyKey": key });
        self.as_service(&query, json!({ "input": input })).await["purchaseTokens"].clone()
    }

    /// An admin grant: `input` holds everything but the account id.
    pub async fn grant(&self, account: &str, mut input: Value) -> Value {
        input["accountId"] = json!(account);
        let query = format!(
            "mutation($input: GrantCreditsInput!) {{ grantCredits(input: $input) {{
                lot {{ id source granted remaining expiresAt proEligible }} wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        self.as_admin(&query, json!({ "input": input })).await["grantCredits"].clone()
    }

    /// Holds a generation's credits; `ttl_seconds` None takes the default.
    pub async fn reserve(&self, account: &str, generation: Value, key: &str, ttl_seconds: Option<i64>) -> Value {
        let query = format!(
            "mutation($input: ReserveCreditsInput!) {{ reserveCredits(input: $input) {{
                reservation {{ {RESERVATION} }} wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        let input =
            json!({ "accountId": account, "generation": generation, "idempotencyKey": key, "ttlSeconds": ttl_seconds });
        self.as_service(&query, json!({ "input": input })).await["reserveCredits"].clone()
    }

    pub async fn capture(&self, reservation_id: &Value, credits: Option<i64>) -> Value {
        let query = format!(
            "mutation($input: CaptureReservationInput!) {{ captureReservation(input: $input) {{
                usageEvent {{ {USAGE_EVENT} }} wallet {{ {WALLET} }} lowBalance errors {{ {ERRORS} }} }} }}"
        );
        let input = json!({ "reservationId": reservation_id, "credits": credits });
        self.as_service(&query, json!({ "input": input })).await["captureReservation"].clone()
    }

    pub async fn release(&self, reservation_id: &Value) -> Value {
        let query = format!(
            "mutation($input: ReleaseReservationInput!) {{ releaseReservation(input: $input) {{
                reservation {{ {RESERVATION} }} wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        self.as_service(&query, json!({ "input": { "reservationId": reservation_id } })).await["releaseReservation"]
            .clone()
    }

    pub async fn refund(&self, usage_event_id: &Value) -> Value {
        self.refund_with(usage_event_id, json!({})).await
    }

    /// A refund with more of its input: `cause`, `credits`.
    pub async fn refund_with(&self, usage_event_id: &Value, more: Value) -> Value {
        let query = format!(
            "mutation($input: RefundUsageInput!) {{ refundUsage(input: $input) {{
                refundedCredits refund {{ credits cause createdAt }} usageEvent {{ {USAGE_EVENT} }}
                wallet {{ {WALLET} }} errors {{ {ERRORS} }} }} }}"
        );
        let mut input = json!({ "usageEventId": usage_event_id, "reason": "generation failed" });
        for (field, value) in more.as_object().into_iter().flatten() {
            input[field] = value.clone();
        }
        self.as_service(&query, json!({ "input": input })).await["refundUsage"].clone()
    }

    /// Ledger entries of an account, newest first (up to 100).
    pub async fn ledger(&self, account: &str) -> Vec<Value> {
        let query = "query($id: ID!) { account(id: $id) { ledger(first: 100) {
            totalCount edges { node { kind amount balanceAfter lotId reference usageEventId reservationId } } } } }";
        let data = self.as_service(query, json!({ "id": account })).await;
        data["account"]["ledger"]["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect()
    }

    /// Asserts that the ledger check is clean, through the admin query.
    pub async fn assert_ledger_clean(&self) {
        let data =
            self.as_admin("{ ledgerCheck { clean accountsChecked problems { accountId problem } } }", json!({})).await;
        assert_eq!(data["ledgerCheck"]["clean"], json!(true), "ledger check: {:#}", data["ledgerCheck"]);
    }
}

pub const WALLET: &str = "balance proBalance dailyFree dailyFreeResetsAt subscriptionCredits subscriptionAllowance
    subscriptionPercentLeft tokens promo rollover held lowBalance lots { id source granted remaining expiresAt proEligible }";
pub const ERRORS: &str = "code message field needed available";
pub const RESERVATION: &str = "id credits status expiresAt usageEventId lotSplit { lotId credits }";
pub const USAGE_EVENT: &str =
    "id credits refundedCredits count status tool studio model { id pro } lotSplit { lotId credits }";
pub const SUBSCRIPTION: &str =
    "plan { code monthlyCredits } status currentPeriodStart currentPeriodEnd cancelAtPeriodEnd";

/// A standard image generation: sdxl costs 3 credits per output.
pub fn image(count: i64) -> Value {
    json!({ "tool": "text-to-image", "modelId": "sdxl", "count": count })
}

/// A Pro image generation: flux-pro costs 8 credits per output.
pub fn pro_image(count: i64) -> Value {
    json!({ "tool": "text-to-image", "modelId": "flux-pro", "count": count })
}

/// The code of the first user error of a payload, or null.
pub fn error_code(payload: &Value) -> Value {
    payload["errors"][0]["code"].clone()
}

/// `extensions.code` of the first GraphQL error of a response.
pub fn graphql_error_code(response: &Value) -> Value {
    response["errors"][0]["extensions"]["code"].clone()
}
