//! The outbox worker against the real store (SQLite) and the file
//! transport.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use embargo_outbound::{
    AckContext, Deliver, DeliveryError, FileTransport, Transport, TransportSpec, Worker,
    WorkerConfig, acknowledgement, flush,
};
use embargo_store::{NewOutbox, Store};
use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

async fn store(dir: &Path) -> Store {
    Store::connect(
        &format!("sqlite://{}/x.db", dir.display()),
        embargo_seal::StorageKeys::ephemeral(),
    )
    .await
    .unwrap()
}

fn entry(n: usize) -> NewOutbox {
    NewOutbox {
        report_id: None,
        recipients: vec![format!("r{n}@example.org")],
        body: format!("Subject: message {n}\r\n\r\nbody {n}\r\n").into_bytes(),
    }
}

/// Outbox rows: id -> (state, attempts, last_error).
async fn rows(store: &Store) -> HashMap<String, (String, i64, Option<String>)> {
    sqlx::query("SELECT id, state, attempts, last_error FROM outbox")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("id"),
                (
                    r.get::<String, _>("state"),
                    r.get::<i64, _>("attempts"),
                    r.get::<Option<String>, _>("last_error"),
                ),
            )
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn file_transport_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let now = common::now();

    // A real composed message among them, queued in a transaction.
    let team = common::team();
    let ack = acknowledgement(&AckContext {
        team: &team,
        settings: &common::settings(),
        tracking_id: &common::tracking_id(),
        reporter: common::REPORTER,
        reporter_cert: None,
        report_message_id: None,
        report_subject: None,
        now,
    })
    .unwrap();
    let ack_bytes = ack.bytes.clone();
    let mut expected = HashMap::new();
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .enqueue_outbox(&ack.into_outbox(None), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    expected.insert(id.to_string(), ack_bytes);
    for n in 1..=2 {
        let e = entry(n);
        let id = store.enqueue_outbox(&e, now).await.unwrap();
        expected.insert(id.to_string(), e.body);
    }

    // `file` from the configuration: DIR/outbox.
    let transport = Transport::from_config(
        &TransportSpec::new("file"),
        dir.path(),
        "security@project.example",
    )
    .unwrap();
    let counts = flush(&store, &transport, now).await.unwrap();
    assert_eq!((counts.sent, counts.retry, counts.dead), (3, 0, 0));

    let outbox = dir.path().join("outbox");
    assert_eq!(mode(&outbox), 0o700);
    let mut files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?} (no temporary files left)");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let id = name.strip_suffix(".eml").unwrap();
        assert_eq!(mode(&path), 0o600, "{name}");
        assert_eq!(&std::fs::read(&path).unwrap(), &expected[id], "{name}");
    }
    let c = store.outbox_counts(now).await.unwrap();
    assert_eq!(
        (c.sent, c.ready, c.waiting, c.sending, c.dead),
        (3, 0, 0, 0, 0)
    );
    assert!(
        rows(&store)
            .await
            .values()
            .all(|(s, a, _)| s == "sent" && *a == 1)
    );

    // Nothing left: a second flush does nothing.
    assert_eq!(flush(&store, &transport, now).await.unwrap().total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_transport_backs_off_then_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let t0 = common::now();
    let id = store
        .enqueue_outbox(&entry(1), t0)
        .await
        .unwrap()
        .to_string();

    // The outbox "directory" is a regular file: every write fails (I/O,
    // transient).
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let transport = Transport::File(FileTransport::new(blocker.join("outbox")));
    let config = WorkerConfig {
        max_attempts: 4,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(store.clone(), &transport, config);

    // Attempt 1 at t0 -> retry after 1 m; attempt 2 -> 2 m; 3 -> 4 m;
    // attempt 4 -> dead.
    let mut t = t0;
    for (attempt, delay_mins) in [(1, 1), (2, 2), (3, 4)] {
        let c = worker.flush(t).await.unwrap();
        assert_eq!((c.retry, c.dead, c.sent), (1, 0, 0), "attempt {attempt}");
        let r = &rows(&store).await[&id];
        assert_eq!((r.0.as_str(), r.1), ("queued", attempt));
        let reason = r.2.clone().unwrap();
        assert!(reason.starts_with("transient delivery failure"), "{reason}");
        assert!(!reason.contains("example.org"), "{reason}");
        // Not due a second before the backoff ends, due at its end.
        let due = t + SignedDuration::from_mins(delay_mins);
        let before = due - SignedDuration::from_secs(1);
        assert_eq!(worker.flush(before).await.unwrap().total(), 0);
        let counts = store.outbox_counts(before).await.unwrap();
        assert_eq!((counts.waiting, counts.ready), (1, 0));
        assert_eq!(store.outbox_counts(due).await.unwrap().ready, 1);
        t = due;
    }
    let c = worker.flush(t).await.unwrap();
    assert_eq!((c.retry, c.dead), (0, 1));
    let r = &rows(&store).await[&id];
    assert_eq!((r.0.as_str(), r.1), ("dead", 4));
    // Dead stays dead.
    let later = t + SignedDuration::from_hours(24);
    assert_eq!(worker.flush(later).await.unwrap().total(), 0);
    assert_eq!(store.outbox_counts(later).await.unwrap().dead, 1);
}

/// Records deliveries; fails permanently for recipients starting with
/// `reject`.
#[derive(Default)]
struct Recorder {
    delivered: Mutex<Vec<Delivery>>,
}

/// (outbox id, recipients, bytes)
type Delivery = (String, Vec<String>, Vec<u8>);

impl Deliver for Recorder {
    async fn send(
        &self,
        id: &str,
        recipients: &[String],
        bytes: &[u8],
    ) -> Result<(), DeliveryError> {
        if recipients.iter().any(|r| r.starts_with("reject")) {
            return Err(DeliveryError::Permanent("SMTP 550".into()));
        }
        // Give the other worker a chance to interleave.
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.delivered
            .lock()
            .unwrap()
            .push((id.to_owned(), recipients.to_vec(), bytes.to_vec()));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_failure_is_dead_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let now = common::now();
    let mut e = entry(1);
    e.recipients = vec!["reject@example.org".into()];
    let id = store.enqueue_outbox(&e, now).await.unwrap().to_string();
    let recorder = Recorder::default();
    let c = flush(&store, &recorder, now).await.unwrap();
    assert_eq!((c.dead, c.retry, c.sent), (1, 0, 0));
    let r = &rows(&store).await[&id];
    assert_eq!(
        (r.0.as_str(), r.1, r.2.as_deref()),
        ("dead", 1, Some("permanent delivery failure: SMTP 550"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_workers_deliver_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let now = common::now();
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(
            store
                .enqueue_outbox(&entry(n), now)
                .await
                .unwrap()
                .to_string(),
        );
    }
    let recorder = Arc::new(Recorder::default());
    let small = |owner: &str| WorkerConfig {
        owner: owner.into(),
        batch: 3,
        ..WorkerConfig::default()
    };
    let a = Worker::new(store.clone(), Arc::clone(&recorder), small("worker-a"));
    let b = Worker::new(store.clone(), Arc::clone(&recorder), small("worker-b"));
    let (ca, cb) = tokio::join!(a.flush(now), b.flush(now));
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert_eq!(ca.sent + cb.sent, 40, "{ca:?} {cb:?}");
    assert!(
        ca.sent > 0 && cb.sent > 0,
        "both workers took part: {ca:?} {cb:?}"
    );

    let mut seen: Vec<String> = recorder
        .delivered
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _, _)| id.clone())
        .collect();
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "each message exactly once");
    assert_eq!(store.outbox_counts(now).await.unwrap().sent, 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_workers_lease_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let now = common::now();
    let id = store.enqueue_outbox(&entry(1), now).await.unwrap();
    // Another worker claims it and dies.
    let claimed = store
        .claim_outbox("crashed", SignedDuration::from_mins(10), now, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let recorder = Recorder::default();
    assert_eq!(flush(&store, &recorder, now).await.unwrap().total(), 0);
    let later = now + SignedDuration::from_mins(10);
    let c = flush(&store, &recorder, later).await.unwrap();
    assert_eq!(c.sent, 1);
    assert_eq!(recorder.delivered.lock().unwrap()[0].0, id.to_string());
    assert_eq!(
        rows(&store).await[&id.to_string()].1,
        2,
        "two attempts counted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_delivers_when_woken_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let config = WorkerConfig {
        poll_interval: Duration::from_secs(3600),
        ..WorkerConfig::default()
    };
    let worker = Arc::new(Worker::new(
        store.clone(),
        Transport::File(FileTransport::new(&outbox)),
        config,
    ));
    let waker = worker.waker();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn({
        let worker = Arc::clone(&worker);
        async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // Queued after the first (empty) round: delivered once woken, long
    // before the hour-long poll.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = store
        .enqueue_outbox(&entry(1), Timestamp::now())
        .await
        .unwrap();
    waker.notify_one();
    let file = outbox.join(format!("{id}.eml"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(std::time::Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn file_transport_refuses_an_open_directory() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    std::fs::create_dir(&outbox).unwrap();
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = FileTransport::new(&outbox);
    let err = t.send("abc", b"x").await.unwrap_err();
    assert!(!err.is_permanent());
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 0);
    // Redelivery of the same id replaces the file.
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o700)).unwrap();
    t.send("abc", b"one").await.unwrap();
    t.send("abc", b"two").await.unwrap();
    assert_eq!(std::fs::read(outbox.join("abc.eml")).unwrap(), b"two");
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);
    assert!(t.send("../escape", b"x").await.unwrap_err().is_permanent());
}
