//! WG-lead digests: who gets what (encrypted or a content-free notice),
//! and once per period per WG.

use embargo_domain::{Role, Severity, State};
use embargo_review::{
    DigestOptions, compose_digests, digest_contents, import_wgs, load_registry, run_digests,
};
use embargo_store::{OutboxState, Store};
use embargo_wg::{Lead, LeadConfig, Registry, WgConfig};
use jiff::{SignedDuration, Timestamp};

use crate::common::{Harness, add_user, contains, corpus, header, public_key, report_in, t, team};

on_both_backends!(
    digests_are_encrypted_or_content_free,
    digests_are_sent_once_per_period,
);

const SUBJECTS: [&str; 6] = [
    "RCE-CANARY-a1 in the pipeline API server",
    "LOW-CANARY-b2 verbose error page",
    "SCHED-CANARY-c3 token leak in the UI",
    "PUB-CANARY-d4 already public",
    "TRAIN-CANARY-e5 katib escape",
    "NEW-CANARY-f6 not routed yet",
];

fn now() -> Timestamp {
    t("2026-03-04T15:00:00Z")
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Registry (wgs.yaml plus config leads for pipelines), accounts, reports.
async fn setup(store: &Store) -> Registry {
    let yaml = std::fs::read_to_string(corpus("kubeflow/wgs.yaml")).unwrap();
    import_wgs(store, &yaml, &[], "cli", now() - days(30))
        .await
        .unwrap();
    let config = vec![WgConfig {
        name: "pipelines".into(),
        leads: Some(vec![
            LeadConfig::Full(Lead {
                email: Some("reg-lead@example.org".into()),
                pgp_cert: Some(public_key("reg-lead@example.org")),
                ..Lead::default()
            }),
            LeadConfig::Email("reg-nokey@example.org".into()),
            // Same address as an account: sent once.
            LeadConfig::Email("ACCT-LEAD@example.org".into()),
        ]),
        ..WgConfig::default()
    }];
    let registry = load_registry(store, &config).await.unwrap();

    add_user(
        store,
        "pl-lead",
        Role::WgLead,
        Some("pipelines"),
        Some("acct-lead@example.org"),
        Some(public_key("acct-lead@example.org")),
    )
    .await;
    add_user(
        store,
        "pl-nokey",
        Role::WgLead,
        Some("pipelines"),
        Some("acct-nokey@example.org"),
        None,
    )
    .await;
    // A key that does not parse: treated as no key.
    add_user(
        store,
        "pl-badkey",
        Role::WgLead,
        Some("pipelines"),
        Some("acct-badkey@example.org"),
        Some("not a key".into()),
    )
    .await;
    add_user(
        store,
        "tr-lead",
        Role::WgLead,
        Some("training"),
        Some("tr-lead@example.org"),
        Some(public_key("tr-lead@example.org")),
    )
    .await;
    add_user(
        store,
        "nb-lead",
        Role::WgLead,
        Some("notebooks"),
        Some("nb-lead@example.org"),
        None,
    )
    .await;
    add_user(store, "noaddr", Role::WgLead, Some("data"), None, None).await;
    add_user(
        store,
        "admin",
        Role::Admin,
        None,
        Some("admin@example.org"),
        None,
    )
    .await;

    let n = now();
    report_in(
        store,
        SUBJECTS[0],
        State::Triaged,
        Some("pipelines"),
        Some(Severity::Critical),
        n - days(5),
    )
    .await;
    report_in(
        store,
        SUBJECTS[1],
        State::Accepted,
        Some("pipelines"),
        Some(Severity::Low),
        n - days(3),
    )
    .await;
    report_in(
        store,
        SUBJECTS[2],
        State::Scheduled,
        Some("pipelines"),
        Some(Severity::High),
        n - days(20),
    )
    .await;
    report_in(
        store,
        SUBJECTS[3],
        State::Published,
        Some("pipelines"),
        Some(Severity::High),
        n - days(40),
    )
    .await;
    report_in(
        store,
        SUBJECTS[4],
        State::Triaged,
        Some("training"),
        Some(Severity::Medium),
        n - days(1),
    )
    .await;
    report_in(store, SUBJECTS[5], State::New, None, None, n - days(1)).await;
    registry
}

fn content_type(bytes: &[u8]) -> String {
    header(bytes, "Content-Type").unwrap_or_default()
}

async fn digests_are_encrypted_or_content_free(h: &Harness) {
    let store = &h.store;
    let registry = setup(store).await;
    let options = DigestOptions {
        admin_url: Some("https://security.project.example/admin".into()),
        ..DigestOptions::default()
    };

    let contents = digest_contents(store, &registry, &options, now())
        .await
        .unwrap();
    let pipelines = contents
        .iter()
        .find(|d| d.wg.as_str() == "pipelines")
        .unwrap();
    let subjects = |items: &[embargo_review::DigestItem]| {
        items.iter().map(|i| i.subject.clone()).collect::<Vec<_>>()
    };
    assert_eq!(subjects(&pipelines.overdue), [SUBJECTS[0]]);
    assert_eq!(subjects(&pipelines.open), [SUBJECTS[1]]);
    assert_eq!(subjects(&pipelines.scheduled), [SUBJECTS[2]]);
    assert_eq!(subjects(&pipelines.new), [SUBJECTS[0], SUBJECTS[1]]);
    assert_eq!(pipelines.period_start, t("2026-03-02T00:00:00Z"));
    let training = contents
        .iter()
        .find(|d| d.wg.as_str() == "training")
        .unwrap();
    assert_eq!(subjects(&training.open), [SUBJECTS[4]]);
    assert!(
        contents
            .iter()
            .find(|d| d.wg.as_str() == "notebooks")
            .unwrap()
            .is_empty()
    );

    let mails = compose_digests(store, &registry, &team(), &options, now())
        .await
        .unwrap();
    let mut to: Vec<(String, String, bool)> = mails
        .iter()
        .map(|m| {
            (
                m.wg.to_string(),
                m.composed.recipients.join(","),
                m.encrypted,
            )
        })
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            ("pipelines".into(), "acct-badkey@example.org".into(), false),
            ("pipelines".into(), "acct-lead@example.org".into(), true),
            ("pipelines".into(), "acct-nokey@example.org".into(), false),
            ("pipelines".into(), "reg-lead@example.org".into(), true),
            ("pipelines".into(), "reg-nokey@example.org".into(), false),
            ("training".into(), "tr-lead@example.org".into(), true),
        ]
    );
    for m in &mails {
        let bytes = &m.composed.bytes;
        assert_eq!(m.composed.encrypted, m.encrypted);
        let ct = content_type(bytes);
        let subject = header(bytes, "Subject").unwrap();
        assert!(subject.starts_with("[DIGEST-2026-"), "{subject}");
        // Nothing readable about reports, whichever the kind.
        for s in SUBJECTS {
            let canary = s.split(' ').next().unwrap();
            assert!(
                !contains(bytes, canary),
                "{canary} readable in mail to {:?}",
                m.composed.recipients
            );
        }
        if m.encrypted {
            assert!(ct.starts_with("multipart/encrypted"), "{ct}");
            assert!(ct.contains("application/pgp-encrypted"), "{ct}");
            assert!(contains(bytes, "-----BEGIN PGP MESSAGE-----"));
            assert!(subject.ends_with("Encrypted message"), "{subject}");
        } else {
            assert!(ct.starts_with("text/plain"), "{ct}");
            assert!(!contains(bytes, "PGP MESSAGE"));
            // Content-free: no tracking IDs, no counts, a link.
            assert!(!contains(bytes, "KF-2026-"));
            assert!(contains(bytes, "https://security.project.example/admin"));
            assert!(subject.contains("pipelines"), "{subject}");
        }
    }
}

async fn count_queued(store: &Store) -> usize {
    store
        .list_outbox(Some(OutboxState::Queued), 1000)
        .await
        .unwrap()
        .len()
}

async fn digests_are_sent_once_per_period(h: &Harness) {
    let store = &h.store;
    let registry = setup(store).await;
    let options = DigestOptions::default();

    let first = run_digests(store, &registry, &team(), &options, now())
        .await
        .unwrap();
    let sent: Vec<(String, usize, usize)> = first
        .sent
        .iter()
        .map(|s| (s.wg.to_string(), s.recipients, s.encrypted))
        .collect();
    assert_eq!(
        sent,
        [("pipelines".into(), 5, 2), ("training".into(), 1, 1)]
    );
    assert_eq!(
        first
            .nothing_to_report
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>(),
        ["notebooks"]
    );
    assert!(first.without_leads.iter().any(|w| w.as_str() == "data"));
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(count_queued(store).await, 6);

    // Later in the same week: nothing new.
    let again = run_digests(
        store,
        &registry,
        &team(),
        &options,
        now() + SignedDuration::from_hours(30),
    )
    .await
    .unwrap();
    assert!(again.sent.is_empty());
    assert_eq!(again.already_sent.len(), 2);
    assert_eq!(count_queued(store).await, 6);

    // Next week, several processes at once: each digest once.
    let next = now() + days(7);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, registry) = (store.clone(), registry.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match run_digests(&store, &registry, &team(), &DigestOptions::default(), next).await
                {
                    Ok(r) => break r,
                    Err(e) if e.is_temporary() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    let mut wgs_sent = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        wgs_sent.extend(r.sent.into_iter().map(|s| s.wg.to_string()));
    }
    wgs_sent.sort();
    assert_eq!(wgs_sent, ["pipelines", "training"]);
    assert_eq!(count_queued(store).await, 12);
    // Only the previous digest counts as "new since": nothing new now.
    let contents = digest_contents(store, &registry, &options, next)
        .await
        .unwrap();
    assert!(contents.iter().all(|d| d.new.is_empty()));
    let runs = store.list_digest_runs(10).await.unwrap();
    assert_eq!(runs.len(), 4);
}
