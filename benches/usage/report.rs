//! The table of figures against the targets of issue 5.
use std::time::Duration;

use crate::measure::{Kind, Measured};

pub const PAGE_MEDIAN_MS: f64 = 3.0;
pub const PAGE_P99_MS: f64 = 10.0;
pub const TOTALS_MEDIAN_MS: f64 = 10.0;
pub const SUMMARY_MEDIAN_MS: f64 = 10.0;
pub const SUMMARY_RATIO: f64 = 2.0;
pub const SERIES_MEDIAN_MS: f64 = 10.0;
pub const SERIES_RATIO: f64 = 1.5;

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// The target of a line and whether it is met.
fn target(measured: &Measured) -> (String, bool) {
    let (median, p99) = (ms(measured.http.median), ms(measured.http.p99));
    match measured.case.kind {
        Kind::Page => (
            format!("median < {PAGE_MEDIAN_MS:.0}, p99 < {PAGE_P99_MS:.0}"),
            median < PAGE_MEDIAN_MS && p99 < PAGE_P99_MS,
        ),
        Kind::Totals => (format!("median < {TOTALS_MEDIAN_MS:.0}"), median < TOTALS_MEDIAN_MS),
        Kind::Summary => (format!("median < {SUMMARY_MEDIAN_MS:.0}"), median < SUMMARY_MEDIAN_MS),
        Kind::Series => (format!("median < {SERIES_MEDIAN_MS:.0}"), median < SERIES_MEDIAN_MS),
    }
}

/// Prints the table; returns how many targets were missed.
pub fn print(database: &str, results: &[Measured], iterations: usize) -> usize {
    println!();
    println!("usage benchmark on {database}: {iterations} timed requests each, milliseconds through HTTP + GraphQL");
    println!("(store: median of the same read called on the store directly, SQL and decoding only;");
    println!(" stmts: SQL statements per request; bytes: size of the response's data)");
    println!();
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>6} {:>9}  {:<24} result",
        "query", "median", "p99", "store", "stmts", "bytes", "target (ms)"
    );
    let mut missed = 0;
    for measured in results {
        let (target, pass) = target(measured);
        missed += usize::from(!pass);
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2} {:>6.1} {:>9}  {:<24} {}",
            measured.case.name,
            ms(measured.http.median),
            ms(measured.http.p99),
            ms(measured.store.median),
            measured.statements,
            measured.response_bytes,
            target,
            verdict(pass)
        );
    }
    let summaries: Vec<&Measured> = results.iter().filter(|m| m.case.kind == Kind::Summary).collect();
    if let [heavy, twin, light, rest @ ..] = &summaries[..] {
        let ratio = |other: &Measured| ms(heavy.http.median) / ms(other.http.median).max(f64::MIN_POSITIVE);
        let pass = ratio(light) <= SUMMARY_RATIO;
        missed += usize::from(!pass);
        let target = format!("ratio <= {SUMMARY_RATIO:.0}");
        let blank = "";
        println!(
            "{:<44} {:>9.2} {blank:>9} {blank:>9} {blank:>6} {blank:>9}  {target:<24} {}",
            "summary median, heavy / light",
            ratio(light),
            verdict(pass)
        );
        // Same buckets, 40x fewer events: what the cost depends on.
        println!(
            "{:<44} {:>9.2} {blank:>9} {blank:>9} {blank:>6} {blank:>9}  {:<24} (same buckets)",
            "summary median, heavy / its twin",
            ratio(twin),
            "-"
        );
        // The same heavy summary in local days, a few hours from UTC.
        if let [zoned, ..] = rest {
            println!(
                "{:<44} {:>9.2} {blank:>9} {blank:>9} {blank:>6} {blank:>9}  {:<24} (UTC days)",
                "summary median, heavy New York / heavy",
                ms(zoned.http.median) / ms(heavy.http.median).max(f64::MIN_POSITIVE),
                "-"
            );
        }
    }
    // Issue 19: a chart's series costs what its buckets cost, not its events.
    if let [heavy, twin] = &results.iter().filter(|m| m.case.kind == Kind::Series).collect::<Vec<_>>()[..] {
        let ratio = ms(heavy.http.median) / ms(twin.http.median).max(f64::MIN_POSITIVE);
        let pass = ratio <= SERIES_RATIO;
        missed += usize::from(!pass);
        let blank = "";
        println!(
            "{:<44} {ratio:>9.2} {blank:>9} {blank:>9} {blank:>6} {blank:>9}  {:<24} {}",
            "series median, heavy / its twin",
            format!("ratio <= {SERIES_RATIO}"),
            verdict(pass)
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "load average at the end: {} on {cores} cores (other work on the machine inflates these figures)",
            load.join(" ")
        );
    }
    println!();
    if missed == 0 {
        println!("all targets met");
    } else {
        println!("{missed} target(s) missed");
    }
    missed
}
