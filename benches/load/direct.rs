//! The limit: the same charge straight on the database (`Store::consume`),
//! without HTTP and GraphQL, at the same concurrency.
use std::time::Instant;

use credits::domain::pricing::GenerationRequest;
use credits::error::Error;
use credits::store::Store;
use rand::Rng;

use crate::stats::{CpuMeter, Phase, Tally};
use crate::{BoxError, Target};

fn code(error: &Error) -> String {
    match error {
        Error::Domain(domain) => format!("user {}", domain.code().as_str()),
        Error::Unauthenticated(_) => "UNAUTHENTICATED".into(),
        Error::Forbidden(_) => "FORBIDDEN".into(),
        Error::Unavailable(_) => "SERVICE_UNAVAILABLE".into(),
        Error::Internal(_) => "INTERNAL_SERVER_ERROR".into(),
    }
}

pub async fn drive(name: &str, store: &Store, target: &Target) -> Result<Phase, BoxError> {
    let request = GenerationRequest {
        tool: "background-removal".into(),
        model_id: None,
        count: 1,
        duration_seconds: None,
        characters: None,
        options: Vec::new(),
    };
    let meter = CpuMeter::start(None);
    let started = Instant::now();
    let deadline = started + target.duration;
    let mut tasks = Vec::new();
    for task in 0..target.clients {
        let (store, accounts, request) = (store.clone(), target.accounts.clone(), request.clone());
        let prefix = format!("{}-limit-{name}-{task}", target.run);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let account = &accounts[rand::rng().random_range(0..accounts.len())];
                n += 1;
                let key = format!("{prefix}-{n}");
                let sent = Instant::now();
                match store.consume(account, &request, &key, chrono::Utc::now()).await {
                    Ok(_) => tally.committed(sent.elapsed()),
                    Err(error) => tally.failed(code(&error)),
                }
            }
            tally
        }));
    }
    Phase::gather(&format!("limit (Store::consume), {name}"), started, tasks, meter).await
}
