//! The command-line contract: init, key export, user add, report list/show,
//! and how failures look.

use std::process::Command;

use crate::support::{Gateway, assert_one_line_error, mode_of};

/// Runs a case on SQLite and, when available, on PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&crate::support::Gateway::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(g) = crate::support::Gateway::postgres() { super::$name(&g); }
            })*
        }
    };
}

both_backends!(
    init_is_idempotent,
    user_add_and_report_commands,
    triage_of_unknown_report_fails
);

fn init_is_idempotent(g: &Gateway) {
    let first = g.run(&["init"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let password = String::from_utf8(first.stdout).unwrap();
    let password = password.trim();
    assert_eq!(
        password.len(),
        23,
        "one-time password on stdout: {password:?}"
    );

    let data = g.data();
    assert_eq!(mode_of(&data), 0o700);
    assert_eq!(mode_of(&data.join("keys")), 0o700);
    assert_eq!(mode_of(&data.join("keys/team.sec.asc")), 0o600);
    assert_eq!(mode_of(&data.join("keys/storage.key")), 0o600);
    let team_key = std::fs::read(data.join("keys/team.sec.asc")).unwrap();
    let storage_key = std::fs::read(data.join("keys/storage.key")).unwrap();

    let second = g.run(&["init"]);
    assert!(second.status.success());
    assert!(second.stdout.is_empty(), "the password is shown once only");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(
        std::fs::read(data.join("keys/team.sec.asc")).unwrap(),
        team_key
    );
    assert_eq!(
        std::fs::read(data.join("keys/storage.key")).unwrap(),
        storage_key
    );
    assert_eq!(g.ok(&["report", "list", "--json"]).trim(), "[]");
}

fn user_add_and_report_commands(g: &Gateway) {
    g.ok(&["init"]);
    let pw = g.ok(&["user", "add", "alice", "--role", "triager"]);
    assert_eq!(pw.trim().len(), 23);
    let again = g.run(&["user", "add", "alice", "--role", "triager"]);
    let err = assert_one_line_error(&again);
    assert!(err.contains("already exists"), "{err}");

    let lead = g.run(&["user", "add", "bob", "--role", "wg-lead"]);
    assert!(assert_one_line_error(&lead).contains("--wg"));
    g.ok(&[
        "user",
        "add",
        "bob",
        "--role",
        "wg-lead",
        "--wg",
        "pipelines",
    ]);
    let bad_role = g.run(&["user", "add", "carol", "--role", "root"]);
    assert!(assert_one_line_error(&bad_role).contains("role"));

    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "list", "--json"])).unwrap();
    assert_eq!(list, serde_json::json!([]));
    let show = g.run(&["report", "show", "SEC-2026-0001", "--json"]);
    assert!(assert_one_line_error(&show).contains("SEC-2026-0001"));
    let malformed = g.run(&["report", "show", "../../etc/passwd", "--json"]);
    assert_one_line_error(&malformed);
}

fn triage_of_unknown_report_fails(g: &Gateway) {
    g.ok(&["init"]);
    let out = g.run(&[
        "report",
        "triage",
        "SEC-2026-0042",
        "--wg",
        "pipelines",
        "--severity",
        "high",
    ]);
    assert!(assert_one_line_error(&out).contains("SEC-2026-0042"));
}

#[test]
fn exported_key_is_usable_by_gnupg() {
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    let public = g.ok(&["key", "export"]);
    assert!(public.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    assert!(!public.contains("PRIVATE"));

    let Some(home) = crate::support::gpg_home() else {
        return;
    };
    let key_file = home.path().join("team.asc");
    std::fs::write(&key_file, &public).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args(["--batch", "--quiet", "--trust-model", "always"])
            .args(args)
            .output()
            .unwrap()
    };
    let import = gpg(&["--import", key_file.to_str().unwrap()]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let plain = home.path().join("plain.txt");
    std::fs::write(&plain, "a report for the team").unwrap();
    let enc = gpg(&[
        "--armor",
        "--recipient",
        "security@project.example",
        "--output",
        "-",
        "--encrypt",
        plain.to_str().unwrap(),
    ]);
    assert!(
        enc.status.success(),
        "GnuPG 2.2 encrypts to the team key: {}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let armored = String::from_utf8(enc.stdout).unwrap();
    assert!(armored.starts_with("-----BEGIN PGP MESSAGE-----"));
}

#[test]
fn config_errors_are_one_line_and_name_the_key() {
    let g = Gateway::sqlite();
    let out = g
        .command(&["report", "list", "--json"])
        .env("EMBARGO_WEB_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert!(assert_one_line_error(&out).contains("web.listen"));

    let out = g
        .command(&["init"])
        .env("EMBARGO_WEB_LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(assert_one_line_error(&out).contains("EMBARGO_WEB_LISTN"));

    std::fs::create_dir_all(g.data()).unwrap();
    std::fs::write(g.data().join("embargo.toml"), "[mail]\naddress = 'nope'\n").unwrap();
    let out = g.run(&["init"]);
    assert!(assert_one_line_error(&out).contains("mail.address"));
}

#[test]
fn commands_before_init_fail_clearly() {
    let g = Gateway::sqlite();
    let out = g.run(&["report", "list", "--json"]);
    let err = assert_one_line_error(&out);
    assert!(err.contains("init"), "{err}");
    let out = g.run(&["key", "export"]);
    assert_one_line_error(&out);
}

#[test]
fn unknown_database_scheme_fails_clearly() {
    let g = Gateway::sqlite();
    let out = g
        .command(&["init"])
        .env("DATABASE_URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(assert_one_line_error(&out).contains("database.url"));
}

#[test]
fn configured_secret_keys_replace_generation_and_all_decrypt() {
    // Two team keys (newest first): `init` generates none, and `key export`
    // prints the newest.
    let a = Gateway::sqlite();
    a.ok(&["init"]);
    let b = Gateway::sqlite();
    b.ok(&["init"]);
    let g = Gateway::sqlite();
    std::fs::create_dir_all(g.data()).unwrap();
    let newest = a.data().join("keys/team.sec.asc");
    let older = b.data().join("keys/team.sec.asc");
    std::fs::write(
        g.data().join("embargo.toml"),
        format!(
            "[pgp]\nsecret_keys = [{:?}, {:?}]\n",
            newest.display().to_string(),
            older.display().to_string()
        ),
    )
    .unwrap();
    g.ok(&["init"]);
    assert!(!g.data().join("keys/team.sec.asc").exists());
    assert_eq!(g.ok(&["key", "export"]), a.ok(&["key", "export"]));

    let missing = Gateway::sqlite();
    std::fs::create_dir_all(missing.data()).unwrap();
    std::fs::write(
        missing.data().join("embargo.toml"),
        "[pgp]\nsecret_keys = [\"keys/absent.sec.asc\"]\n",
    )
    .unwrap();
    let out = missing.run(&["init"]);
    assert!(assert_one_line_error(&out).contains("absent.sec.asc"));
}
