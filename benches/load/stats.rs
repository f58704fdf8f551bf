//! What one phase measured, and how it is printed.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// What one task saw: latencies of its committed charges (microseconds)
/// and its failures by code.
#[derive(Default)]
pub struct Tally {
    pub latencies_us: Vec<u32>,
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub fn committed(&mut self, latency: Duration) {
        self.latencies_us.push(latency.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn failed(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }
}

/// CPU time (user + system) of the server and of the bench process during a phase.
#[derive(Clone, Copy, Default)]
pub struct CpuUse {
    pub server: Option<Duration>,
    pub bench: Option<Duration>,
    /// PostgreSQL's processes, together (nothing on SQLite).
    pub postgres: Duration,
}

pub struct Phase {
    pub name: String,
    pub elapsed: Duration,
    pub committed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
    pub cpu: CpuUse,
}

impl Phase {
    /// Waits for a phase's client tasks and puts their tallies together.
    pub async fn gather(
        name: &str,
        started: Instant,
        tasks: Vec<JoinHandle<Tally>>,
        meter: CpuMeter,
    ) -> Result<Phase, crate::BoxError> {
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await?);
        }
        let elapsed = started.elapsed();
        Ok(Phase::from_tallies(name, elapsed, tallies, meter.stop()))
    }

    fn from_tallies(name: &str, elapsed: Duration, tallies: Vec<Tally>, cpu: CpuUse) -> Phase {
        let mut latencies = Vec::new();
        let mut errors = BTreeMap::new();
        for tally in tallies {
            latencies.extend(tally.latencies_us);
            for (code, count) in tally.errors {
                *errors.entry(code).or_default() += count;
            }
        }
        latencies.sort_unstable();
        let at = |q: f64| -> f64 {
            if latencies.is_empty() {
                return f64::NAN;
            }
            let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
            f64::from(latencies[index]) / 1000.0
        };
        Phase {
            name: name.to_owned(),
            elapsed,
            committed: latencies.len() as u64,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            errors,
            cpu,
        }
    }

    pub fn per_second(&self) -> f64 {
        self.committed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn print(&self) {
        println!(
            "  {:<34} {:>8.0} consumes/s  ({} in {:.1} s)  p50 {:.2} ms  p99 {:.2} ms  max {:.1} ms",
            self.name,
            self.per_second(),
            self.committed,
            self.elapsed.as_secs_f64(),
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        );
        let share = |cpu: Option<Duration>| {
            cpu.map(|cpu| format!("{:.0}%", 100.0 * cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "  {:<34} CPU (of one core): server {}, PostgreSQL {}, bench process {}; load average {}",
            "",
            share(self.cpu.server),
            share(Some(self.cpu.postgres)),
            share(self.cpu.bench),
            load_average()
        );
        if self.errors.is_empty() {
            println!("  {:<34} errors: none", "");
        } else {
            let list: Vec<String> = self.errors.iter().map(|(code, count)| format!("{code} x{count}")).collect();
            println!("  {:<34} errors: {}", "", list.join(", "));
        }
    }
}

/// CPU time (utime + stime) of a process from `/proc/<pid>/stat`.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields resume after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the man page; `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// `VmHWM` (peak resident set) of a process, in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of every PostgreSQL process (its backends and its own), by pid.
fn postgres_cpu() -> BTreeMap<String, Duration> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return BTreeMap::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "postgres"))
        .filter_map(|pid| Some((pid.clone(), cpu_time(&pid)?)))
        .collect()
}

/// Measures the CPU of the server (if any), of PostgreSQL and of this
/// process over `work`.
pub struct CpuMeter {
    server: Option<String>,
    server_start: Option<Duration>,
    bench_start: Option<Duration>,
    postgres_start: BTreeMap<String, Duration>,
}

impl CpuMeter {
    pub fn start(server_pid: Option<u32>) -> CpuMeter {
        let server = server_pid.map(|pid| pid.to_string());
        CpuMeter {
            server_start: server.as_deref().and_then(cpu_time),
            server,
            bench_start: cpu_time("self"),
            postgres_start: postgres_cpu(),
        }
    }

    pub fn stop(self) -> CpuUse {
        let server_end = self.server.as_deref().and_then(cpu_time);
        // A backend started during the phase counts from zero; one that
        // ended during it is not seen (the pools keep theirs open).
        let postgres = postgres_cpu()
            .into_iter()
            .map(|(pid, end)| end.saturating_sub(self.postgres_start.get(&pid).copied().unwrap_or_default()))
            .sum();
        CpuUse {
            server: server_end.zip(self.server_start).map(|(end, start)| end.saturating_sub(start)),
            bench: cpu_time("self").zip(self.bench_start).map(|(end, start)| end.saturating_sub(start)),
            postgres,
        }
    }
}

/// The 1-minute load average: other work on the machine skews the figures.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
