//! The Rust process of the end-to-end scenario (tests/e2e): records a known number of
//! events from several threads into a shared registry file, which nginx workers, Python
//! workers and a C program (tests/e2e/recorder.c) record into at the same time.
//!
//! ```text
//! e2e_recorder create FILE                        makes the registry file and exits
//! e2e_recorder record FILE THREADS COUNT SECONDS  records, spread over SECONDS
//! ```
//!
//! `record` defines the same families as the C program, under `lang="rust"`:
//!
//! - `recorder_events_total{lang, thread}`: COUNT per thread;
//! - `recorder_batch_size{lang}`, buckets 1, 2, 4, 8, 16, 32: the i-th event of a
//!   thread observes `i % 40`;
//! - `recorder_cost_usd_total{lang}`: 0.125 per event (exact in binary, so the total
//!   is exact);
//! - `recorder_threads_running{lang}`, a `livesum` gauge: 1 while a thread records.
//!
//! and, in Rust only, `recorder_users_total{user}` with a series limit of 8: users
//! `u0`..`u9`, resolved once in order before the threads start, get `k + 1` increments
//! from each thread, so users `u8` and `u9` (the label sets past the limit) go to the
//! overflow series, which counts `9 + 10` per thread, and
//! `metricore_series_overflow_total{family="recorder_users"}` counts those two lookups.
//! (They are resolved by one thread: threads creating the same new series at once
//! near the limit can send one within the limit to the overflow series.) It prints
//! `ready` once its families exist and `done N` at the end, N being the events
//! recorded.

use std::time::{Duration, Instant};

use metricore::{
    Counter, CounterVec, GaugeMode, GaugeVec, HistogramVec, Kind, Options, Registry, Spec,
};

const LANG: &str = "rust";
const BOUNDS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
const USERS: usize = 10;
const USER_LIMIT: u32 = 8;
const TICK: Duration = Duration::from_millis(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["create", path] => {
            Registry::open_shared(path, &Options::default())?;
            println!("created {path}");
            Ok(())
        }
        ["record", path, threads, count, seconds] => {
            record(path, threads.parse()?, count.parse()?, seconds.parse()?)
        }
        _ => Err("usage: e2e_recorder create FILE | record FILE THREADS COUNT SECONDS".into()),
    }
}

/// The families both programs record into, and the users' handles.
struct Families {
    events: CounterVec,
    batch: HistogramVec,
    cost: CounterVec,
    running: GaugeVec,
    users: Vec<Counter>,
}

fn record(
    path: &str,
    threads: usize,
    count: u64,
    seconds: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::open_shared(path, &Options::default())?;
    let users: CounterVec = registry
        .register(
            Spec::new("recorder_users", "Events by user.", Kind::Counter)
                .labels(&["user"])
                .limit(USER_LIMIT),
        )?
        .try_into()?;
    let families = Families {
        events: registry.counter_vec(
            "recorder_events",
            "Events recorded by the C and Rust programs.",
            &["lang", "thread"],
        )?,
        batch: registry.histogram_vec(
            "recorder_batch_size",
            "Batch sizes seen by the C and Rust programs.",
            &["lang"],
            &BOUNDS,
        )?,
        cost: registry.counter_vec(
            "recorder_cost_usd",
            "Cost of the events, in USD.",
            &["lang"],
        )?,
        running: registry
            .register(
                Spec::new(
                    "recorder_threads_running",
                    "Threads recording now.",
                    Kind::Gauge(GaugeMode::LiveSum),
                )
                .labels(&["lang"]),
            )?
            .try_into()?,
        users: (0..USERS)
            .map(|k| users.with_labels(&[&format!("u{k}")]))
            .collect::<metricore::Result<_>>()?,
    };
    println!("ready");

    let ticks = ((seconds / TICK.as_secs_f64()).ceil() as u64).max(1);
    let failed = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let families = &families;
                s.spawn(move || work(families, t, count, ticks))
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().expect("a recording thread panicked").err())
            .next()
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    println!("done {}", threads as u64 * count);
    Ok(())
}

/// One thread: `count` events in `ticks` steps of 10 ms.
fn work(f: &Families, thread: usize, count: u64, ticks: u64) -> metricore::Result<()> {
    let events = f.events.with_labels(&[LANG, &thread.to_string()])?;
    let batch = f.batch.with_labels(&[LANG])?;
    let cost = f.cost.with_labels(&[LANG])?;
    let running = f.running.with_labels(&[LANG])?;
    running.inc();
    for (k, user) in f.users.iter().enumerate() {
        user.inc_by(k as u64 + 1);
    }
    // Each tick brings the thread to `count x tick / ticks` events, however late it runs.
    let start = Instant::now();
    let mut done = 0u64;
    for tick in 1..=ticks {
        let target = count * tick / ticks;
        for i in done..target {
            events.inc();
            batch.observe((i % 40) as f64)?;
            cost.inc_by_f64(0.125)?;
        }
        done = target;
        let next = start + TICK * tick as u32;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    running.dec();
    Ok(())
}
