//! The CSV export of the heavy account, streamed through HTTP as a browser
//! downloads it: rows, bytes, time, and the process's peak resident memory
//! while it runs (the server runs in this process; the client keeps no
//! more than a chunk of the body).
use std::time::{Duration, Instant};

use crate::BoxError;

pub struct Exported {
    pub rows: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Resident memory before the export, and the peak while it ran, in KiB.
    pub rss_before_kib: u64,
    pub peak_kib: u64,
}

/// A line of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap_or(0)
}

pub async fn export(base_url: &str, token: &str, account: &str) -> Result<Exported, BoxError> {
    // Resets the peak to what is resident now (Linux 4.0 and later).
    std::fs::write("/proc/self/clear_refs", "5")?;
    let rss_before_kib = status_kib("VmRSS:");
    let started = Instant::now();
    let mut response = reqwest::Client::new()
        .get(format!("{base_url}/export/usage.csv"))
        .query(&[("accountId", account)])
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len() as u64;
        // No value of the export holds a line break.
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let elapsed = started.elapsed();
    Ok(Exported { rows: lines.saturating_sub(1), bytes, elapsed, rss_before_kib, peak_kib: status_kib("VmHWM:") })
}

pub fn print(account: &str, exported: &Exported) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "/export/usage.csv of {account}: {} rows, {:.1} MB in {:.2} s; resident {:.1} MiB before, peak {:.1} MiB during (+{:.1})",
        exported.rows,
        exported.bytes as f64 / 1e6,
        exported.elapsed.as_secs_f64(),
        mib(exported.rss_before_kib),
        mib(exported.peak_kib),
        mib(exported.peak_kib.saturating_sub(exported.rss_before_kib)),
    );
}
