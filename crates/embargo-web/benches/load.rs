//! Load benchmark of the admin view: 100k reports in the store, then 4
//! concurrent clients request the report list and a 20-message report page
//! through the router (in-process, `oneshot`, real store, session lookup,
//! audit event on every report view). Prints p50/p99/max per page and
//! backend. Targets: list p99 < 50 ms, report page p99 < 100 ms.
//!
//! ```sh
//! cargo bench -p embargo-web --bench load
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p embargo-web --bench load
//! ```
//!
//! `EMBARGO_BENCH_REPORTS` (default 100000) and `EMBARGO_BENCH_REQUESTS`
//! (per page kind, default 2000) change the sizes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{App, TestStore, test_config, wg};
use embargo_domain::{Role, TrackingPrefix};
use embargo_store::{BenchSeed, Direction, NewMessage, Signature};
use jiff::{SignedDuration, Timestamp};

const CLIENTS: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    n: usize,
    per_sec: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `total` GETs of `paths` (round robin) from `CLIENTS` concurrent clients.
async fn load(client: &common::Client, paths: &[String], total: usize) -> Figures {
    // Warm-up.
    for p in paths.iter().take(10) {
        assert_eq!(client.get(p).await.status.as_u16(), 200, "{p}");
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        let paths = paths.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(total / CLIENTS);
            for i in 0..total / CLIENTS {
                let path = &paths[(i * CLIENTS + c) % paths.len()];
                let t = Instant::now();
                let r = client.get(path).await;
                times.push(t.elapsed());
                assert_eq!(r.status.as_u16(), 200, "{path}");
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    all.sort();
    Figures {
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: *all.last().unwrap(),
        n: all.len(),
        per_sec: all.len() as f64 / wall.as_secs_f64(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn run(
    backend: &str,
    ts: TestStore,
    reports: usize,
    requests: usize,
) -> Vec<(String, Figures)> {
    let app = App::new(ts, test_config(), false).await;
    let store = app.store();
    let seeded = Instant::now();
    let start = Timestamp::now() - SignedDuration::from_hours(24 * 730);
    let step = SignedDuration::from_millis(730 * 24 * 3_600_000 / reports.max(1) as i64);
    let ids = store
        .seed_reports_for_benchmark(&BenchSeed {
            prefix: TrackingPrefix::parse("SEC").unwrap(),
            year: 2026,
            count: reports as u32,
            first_created_at: start,
            step,
            wgs: vec![
                wg("pipelines"),
                wg("notebooks"),
                wg("training"),
                wg("katib"),
                wg("kserve"),
            ],
        })
        .await
        .unwrap();
    eprintln!(
        "[{backend}] seeded {} reports in {:.1} s",
        ids.len(),
        seeded.elapsed().as_secs_f64()
    );

    // A 20-message report: 10 from the reporter, 10 replies.
    let body = "Steps to reproduce:\n".to_owned()
        + &"The pipeline compiler accepts a crafted spec and runs it. ".repeat(40);
    let thread = app.report("Twenty-message thread", &body).await;
    for i in 1..20 {
        let now = Timestamp::now();
        let mid = format!("<bench-{i}-{}@x>", uuid::Uuid::new_v4().simple());
        store
            .add_message(
                &thread,
                NewMessage {
                    message_id: Some(mid.clone()),
                    raw: format!("Message-ID: {mid}\r\n\r\n{body}").into_bytes(),
                    direction: if i % 2 == 0 {
                        Direction::Inbound
                    } else {
                        Direction::Outbound
                    },
                    received_at: now,
                    date: Some(now),
                    from: "Ada Reporter <ada@reporter.example>".to_owned(),
                    subject: format!("Re: Twenty-message thread ({i})"),
                    headers: format!("Message-ID: {mid}\r\n"),
                    body_text: body.clone(),
                    encrypted: true,
                    decrypted: true,
                    decrypt_error: None,
                    signature: Signature::none(),
                    attachments: Vec::new(),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store.report_view(&thread, 0).await.unwrap().messages.len(),
        20
    );

    app.user("bench", Role::Triager, None, false).await;
    let client = app.session("bench").await;

    // Cursors deep into the list, for the "later pages" figure.
    let mut deep = Vec::new();
    let mut url = "/reports".to_owned();
    for _ in 0..20 {
        let r = client.get(&url).await;
        let Some(pos) = r.body.find("id=\"next-page\"") else {
            break;
        };
        let href_start = r.body[..pos].rfind("href=\"").unwrap() + 6;
        let href_end = r.body[href_start..].find('"').unwrap() + href_start;
        url = r.body[href_start..href_end]
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        deep.push(url.clone());
    }

    let mut out = Vec::new();
    out.push((
        "list, first page (50 rows)".to_owned(),
        load(&client, &["/reports".to_owned()], requests).await,
    ));
    out.push((
        "list, pages 2-21 (keyset)".to_owned(),
        load(&client, &deep, requests).await,
    ));
    out.push((
        "list, filtered (state+WG+severity)".to_owned(),
        load(
            &client,
            &[
                "/reports?state=triaged&wg=pipelines&severity=high".to_owned(),
                "/reports?state=accepted&wg=katib&sort=oldest".to_owned(),
                "/reports?severity=critical&age=gt30d".to_owned(),
            ],
            requests,
        )
        .await,
    ));
    out.push((
        "report page, 20 messages".to_owned(),
        load(&client, &[format!("/reports/{thread}")], requests).await,
    ));
    out
}

fn main() {
    let reports = env_usize("EMBARGO_BENCH_REPORTS", 100_000);
    let requests = env_usize("EMBARGO_BENCH_REQUESTS", 2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut results = Vec::new();
        let sqlite = TestStore::sqlite().await;
        results.push(("sqlite", run("sqlite", sqlite, reports, requests).await));
        match TestStore::postgres().await {
            Some(pg) => results.push(("postgres", run("postgres", pg, reports, requests).await)),
            None => eprintln!("PostgreSQL skipped: set TEST_DATABASE_URL"),
        }
        println!();
        println!(
            "{reports} reports, {CLIENTS} concurrent clients, {requests} requests per row (in-process, oneshot)"
        );
        println!(
            "{:<9} {:<36} {:>10} {:>10} {:>10} {:>9}",
            "backend", "page", "p50", "p99", "max", "req/s"
        );
        let mut ok = true;
        for (backend, rows) in &results {
            for (name, f) in rows {
                println!(
                    "{:<9} {:<36} {:>10} {:>10} {:>10} {:>9.0}",
                    backend,
                    name,
                    ms(f.p50),
                    ms(f.p99),
                    ms(f.max),
                    f.per_sec
                );
                let target = if name.starts_with("list") { 50 } else { 100 };
                if f.p99 > Duration::from_millis(target) {
                    ok = false;
                }
                assert!(f.n > 0);
            }
        }
        println!(
            "targets (list p99 < 50 ms, report page p99 < 100 ms): {}",
            if ok { "met" } else { "MISSED" }
        );
    });
}
