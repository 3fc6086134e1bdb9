//! A real Postfix in front of the gateway, configured from `deploy/postfix/`:
//! SMTP in (swaks), LMTP or pipe(8) out. And the other deploy/ files checked
//! with whatever tools are present (kustomize, systemd-analyze, PyYAML).
//!
//! Each Postfix test runs a private instance (its own config, queue and data
//! directories under a temp dir, SMTP on a free loopback port), so a system
//! Postfix is never touched. CI installs Debian's `postfix` and `swaks`
//! (`.ci/run`); elsewhere the tests skip with a reason when they are
//! missing, or when not running as root (Postfix's master must be root).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Gateway, Gpg, free_port, pgp_mime};

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Whether the Postfix tests can run here; in CI they must.
fn postfix_usable() -> bool {
    use std::os::unix::fs::MetadataExt;
    let mut missing = Vec::new();
    if !Path::new("/usr/sbin/postfix").exists() {
        missing.push("postfix (/usr/sbin/postfix)");
    }
    if !on_path("swaks") {
        missing.push("swaks");
    }
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        missing.push("root (a private Postfix master runs as root)");
    }
    if missing.is_empty() {
        return true;
    }
    let why = missing.join(", ");
    if in_ci() {
        panic!("CI=true but the Postfix test cannot run: missing {why}");
    }
    eprintln!("skipping the Postfix test: missing {why}");
    false
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn deploy_file(rel: &str) -> String {
    let path = deploy_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// How Postfix hands the security address to the gateway.
enum Delivery {
    /// `deploy/postfix/embargo-transport`, pointed at this LMTP port.
    Lmtp { port: u16 },
    /// `deploy/postfix/embargo-transport.pipe` and the `embargo` service of
    /// `deploy/postfix/master.cf`, running this binary as `user` on `data`.
    Pipe {
        bin: PathBuf,
        data: PathBuf,
        user: &'static str,
    },
}

/// A private Postfix instance, stopped on drop.
struct Postfix {
    root: tempfile::TempDir,
    conf: PathBuf,
    smtp_port: u16,
}

impl Postfix {
    fn start(delivery: &Delivery) -> Postfix {
        let root = tempfile::Builder::new()
            .prefix("postfix")
            .tempdir()
            .unwrap();
        // Postfix's unprivileged daemons must reach the queue below it.
        set_mode(root.path(), 0o755);
        let conf = root.path().join("conf");
        std::fs::create_dir(&conf).unwrap();
        // The queue belongs to root; Postfix creates data_directory itself
        // (owned by the mail owner).
        std::fs::create_dir(root.path().join("queue")).unwrap();
        set_mode(&root.path().join("queue"), 0o755);
        let smtp_port = free_port();
        let r = root.path().display().to_string();

        // The instance: its own directories, loopback only, quick retries,
        // no DNS, bounces to the (made-up) senders discarded.
        let mut main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.embargo-test.invalid
mydomain = embargo-test.invalid
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
syslog_name = postfix-embargo-test
alias_maps =
alias_database =
local_recipient_maps =
biff = no
relayhost =
default_transport = discard:
lmtp_host_lookup = native
smtp_host_lookup = native
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
lmtp_connect_timeout = 5s

# ---- deploy/postfix/main.cf ----
"
        );
        main_cf.push_str(&deploy_file("postfix/main.cf"));
        std::fs::write(conf.join("main.cf"), main_cf).unwrap();

        // master.cf: the distribution's, without the port-25 listener,
        // with SMTP on our port instead, plus the pipe service when used.
        let dist = [
            "/usr/share/postfix/master.cf.dist",
            "/etc/postfix/master.cf",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Postfix's master.cf.dist");
        let mut master_cf: String = std::fs::read_to_string(dist)
            .unwrap()
            .lines()
            .filter(|l| {
                let mut f = l.split_whitespace();
                !(f.next() == Some("smtp") && f.next() == Some("inet"))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        master_cf.push_str(&format!("127.0.0.1:{smtp_port} inet n - n - - smtpd\n"));

        let recipients = deploy_file("postfix/embargo-recipients");
        let transport = match delivery {
            Delivery::Lmtp { port } => {
                let t = deploy_file("postfix/embargo-transport");
                assert!(t.contains("lmtp:inet:127.0.0.1:2424"), "{t}");
                t.replace("127.0.0.1:2424", &format!("127.0.0.1:{port}"))
            }
            Delivery::Pipe { bin, data, user } => {
                let snippet = deploy_file("postfix/master.cf");
                for needle in ["/usr/local/bin/embargo", "/var/lib/embargo", "user=embargo"] {
                    assert!(snippet.contains(needle), "master.cf lacks {needle}");
                }
                master_cf.push_str("\n# ---- deploy/postfix/master.cf ----\n");
                master_cf.push_str(
                    &snippet
                        .replace("/usr/local/bin/embargo", &bin.display().to_string())
                        .replace("/var/lib/embargo", &data.display().to_string())
                        .replace("user=embargo", &format!("user={user}")),
                );
                deploy_file("postfix/embargo-transport.pipe")
            }
        };
        std::fs::write(conf.join("master.cf"), master_cf).unwrap();
        std::fs::write(conf.join("embargo-recipients"), recipients).unwrap();
        std::fs::write(conf.join("embargo-transport"), transport).unwrap();

        let c = conf.display().to_string();
        // No chroot: the instance has no copies of /etc in its queue dir.
        run_ok(Command::new("/usr/sbin/postconf").args(["-c", &c, "-F", "*/*/chroot = n"]));
        for map in ["embargo-recipients", "embargo-transport"] {
            run_ok(Command::new("/usr/sbin/postmap").args(["-c", &c, &format!("hash:{c}/{map}")]));
        }
        let pf = Postfix {
            root,
            conf,
            smtp_port,
        };
        let out = pf.postfix(&["start"]);
        assert!(
            out.status.success(),
            "postfix start: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            pf.maillog()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Postfix did not listen on {smtp_port}:\n{}",
                pf.maillog()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        pf
    }

    fn postfix(&self, args: &[&str]) -> Output {
        Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .output()
            .unwrap()
    }

    fn maillog(&self) -> String {
        std::fs::read_to_string(self.root.path().join("maillog")).unwrap_or_default()
    }

    /// SMTP submission with swaks; asserts Postfix queued it.
    fn send(&self, from: &str, raw: &[u8]) {
        let file = self.root.path().join(format!("msg-{}.eml", free_port()));
        std::fs::write(&file, raw).unwrap();
        let out = Command::new("swaks")
            .args(["--server", &format!("127.0.0.1:{}", self.smtp_port)])
            .args(["--from", from, "--to", "security@project.example"])
            .args(["--helo", "client.example.org", "--timeout", "30"])
            .arg("--data")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("250 2.0.0 Ok: queued"),
            "swaks: {text}{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.maillog()
        );
    }

    /// Waits until the mail log has a line containing all of `needles`.
    fn wait_log(&self, needles: &[&str], what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.maillog();
            if let Some(line) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} in the mail log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Retry the deferred queue now.
    fn flush(&self) {
        let out = self.postfix(&["flush"]);
        assert!(out.status.success(), "postfix flush: {out:?}");
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.postfix(&["abort"]);
        // Wait for the master to go, so the temp dir is not removed under it.
        let pid_file = self.root.path().join("queue/pid/master.pid");
        let pid = std::fs::read_to_string(pid_file).unwrap_or_default();
        let stat = format!("/proc/{}/stat", pid.trim());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid.trim().is_empty() && Instant::now() < deadline {
            match std::fs::read_to_string(&stat) {
                // Gone, or a zombie nobody reaps.
                Err(_) => break,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z')) =>
                {
                    break;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `embargo serve` on loopback; killed on drop.
struct Serve(std::process::Child);

impl Serve {
    fn start(g: &Gateway, lmtp: u16) -> Serve {
        let web = free_port();
        let mut child = g
            .command(&["serve"])
            .env("EMBARGO_WEB_LISTEN", format!("127.0.0.1:{web}"))
            .env("EMBARGO_LMTP_LISTEN", format!("127.0.0.1:{lmtp}"))
            .env("EMBARGO_METRICS_LISTEN", "")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", lmtp)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("serve exited early: {status}");
            }
            assert!(Instant::now() < deadline, "serve did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Serve(child)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn reports(out: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until `list` (a `report list --json` run) shows `subject`.
fn wait_filed(list: impl Fn() -> String, subject: &str, pf: &Postfix) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = reports(&list())
            .into_iter()
            .find(|r| r["subject"] == subject)
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{subject:?} was not filed; mail log:\n{}",
            pf.maillog()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Postfix from deploy/ delivers by LMTP to `embargo serve`: an encrypted
/// report sent by SMTP is filed and decrypted. The gateway is down at
/// first, so Postfix must keep the message queued and deliver it later.
#[test]
fn postfix_delivers_an_encrypted_report_by_lmtp() {
    if !postfix_usable() {
        return;
    }
    let Some(rita) = Gpg::with_key("Rita <rita@example.org>") else {
        return;
    };
    let g = Gateway::sqlite();
    g.ok(&["init"]);
    rita.ok(&["--import"], Some(g.ok(&["key", "export"]).as_bytes()));
    let inner = "Content-Type: text/plain; charset=utf-8\r\n\r\n\
The kfp-api server trusts X-Forwarded-User. CANARY-POSTFIX\r\n";
    let enc = rita.ok(
        &[
            "--armor",
            "--encrypt",
            "--recipient",
            "security@project.example",
        ],
        Some(inner.as_bytes()),
    );
    let subject = "Header spoofing via Postfix";
    let raw = pgp_mime(
        "Rita <rita@example.org>",
        subject,
        "postfix-lmtp-1@example.org",
        &String::from_utf8(enc).unwrap(),
    );

    let lmtp = free_port();
    let pf = Postfix::start(&Delivery::Lmtp { port: lmtp });

    // Nothing listens yet: Postfix defers and keeps the message.
    pf.send("rita@example.org", &raw);
    let deferred = pf.wait_log(&["status=deferred"], "deferral while the gateway is down");
    assert!(
        deferred.contains("to=<security@project.example>"),
        "{deferred}"
    );

    let _serve = Serve::start(&g, lmtp);
    pf.flush();
    let r = wait_filed(|| g.ok(&["report", "list", "--json"]), subject, &pf);
    let sent = pf.wait_log(&["status=sent"], "LMTP delivery");
    assert!(
        sent.contains(&format!("relay=127.0.0.1[127.0.0.1]:{lmtp}")),
        "{sent}"
    );
    assert!(sent.contains("to=<security@project.example>"), "{sent}");

    let id = r["id"].as_str().unwrap();
    let show: serde_json::Value =
        serde_json::from_str(&g.ok(&["report", "show", id, "--json"])).unwrap();
    let m = &show["messages"][0];
    assert_eq!(m["message_id"], "postfix-lmtp-1@example.org", "{m}");
    assert_eq!(m["encrypted"], true, "{m}");
    assert_eq!(m["decrypted"], true, "{m}");
    assert!(
        m["body_text"].as_str().unwrap().contains("CANARY-POSTFIX"),
        "{m}"
    );
    assert_eq!(
        reports(&g.ok(&["report", "list", "--json"])).len(),
        1,
        "filed once"
    );
}

fn plain(id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Rita <rita@example.org>\r\nTo: security@project.example\r\nSubject: {subject}\r\n\
Message-ID: <{id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Postfix from deploy/ delivers through the pipe(8) transport running
/// `embargo ingest`: exit 0 delivers, 75 defers (and the retry files the
/// message), 65 bounces.
#[test]
fn postfix_pipe_transport_maps_ingest_exit_codes() {
    if !postfix_usable() {
        return;
    }
    // pipe(8) refuses to run commands as root or as Postfix's mail owner:
    // the gateway's files belong to `nobody` here, as they belong to the
    // `embargo` user in production.
    let (uid, gid) = (65534, 65534);
    let g = Gateway::sqlite();
    set_mode(g.dir.path(), 0o755);
    std::fs::create_dir(g.data()).unwrap();
    std::os::unix::fs::chown(g.data(), Some(uid), Some(gid)).unwrap();
    set_mode(&g.data(), 0o700);
    // A copy of the binary that `nobody` can surely execute (the build's
    // target dir may sit below a directory only root can enter).
    let bin_dir = tempfile::Builder::new().prefix("bin").tempdir().unwrap();
    set_mode(bin_dir.path(), 0o755);
    let bin = bin_dir.path().join("embargo");
    std::fs::copy(crate::support::BIN, &bin).unwrap();
    set_mode(&bin, 0o755);
    let as_nobody = |args: &[&str]| -> String {
        use std::os::unix::process::CommandExt;
        let out = g
            .command_of(&bin, &g.data(), args)
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "embargo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    as_nobody(&["init"]);
    std::fs::write(
        g.data().join("embargo.toml"),
        "[intake]\nmax_message_bytes = 4096\n",
    )
    .unwrap();

    let pf = Postfix::start(&Delivery::Pipe {
        bin: bin.clone(),
        data: g.data(),
        user: "nobody",
    });

    // Storage key unavailable: ingest exits 75, Postfix defers.
    let key = g.data().join("keys/storage.key");
    let parked = g.data().join("keys/storage.key.parked");
    std::fs::rename(&key, &parked).unwrap();
    pf.send(
        "rita@example.org",
        &plain("pipe-a@example.org", "pipe deferred", "CANARY-A"),
    );
    let line = pf.wait_log(&["relay=embargo", "status=deferred"], "deferral (exit 75)");
    assert!(line.contains("dsn=4.3.0"), "{line}");

    // Over the size limit: ingest exits 65, Postfix bounces.
    let big = plain("pipe-b@example.org", "pipe bounced", &"x".repeat(8000));
    pf.send("rita@example.org", &big);
    let line = pf.wait_log(&["relay=embargo", "status=bounced"], "bounce (exit 65)");
    assert!(line.contains("dsn=5.6.0"), "{line}");
    assert!(line.contains("size limit"), "{line}");

    // Store back: the deferred message is delivered on retry; a new one
    // is delivered at once.
    std::fs::rename(&parked, &key).unwrap();
    pf.send(
        "rita@example.org",
        &plain("pipe-c@example.org", "pipe delivered", "CANARY-C"),
    );
    pf.flush();
    let list = || as_nobody(&["report", "list", "--json"]);
    wait_filed(list, "pipe delivered", &pf);
    wait_filed(list, "pipe deferred", &pf);
    let line = pf.wait_log(&["relay=embargo", "status=sent"], "pipe delivery");
    assert!(line.contains("delivered via embargo service"), "{line}");
    let all = reports(&list());
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|r| r["subject"] != "pipe bounced"));
}

/// The Kubernetes manifests build with kustomize and say what the gateway
/// needs; the ConfigMap's embargo.toml is a valid config; the systemd unit
/// passes `systemd-analyze verify`; every YAML file parses. Each check runs
/// when its tool is present (kubectl, systemd-analyze, python3 + PyYAML).
#[test]
fn deploy_files_are_well_formed() {
    let deploy = deploy_dir();

    // The ConfigMap's config is accepted by the binary (on SQLite here).
    let g = Gateway::sqlite();
    let out = g
        .command(&["init"])
        .arg("--config")
        .arg(deploy.join("kubernetes/embargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "deploy/kubernetes/embargo.toml: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let yaml_files: Vec<PathBuf> = std::fs::read_dir(deploy.join("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(yaml_files.len() >= 4, "{yaml_files:?}");

    let python_yaml = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if python_yaml {
        for f in &yaml_files {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))",
                ])
                .arg(f)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        eprintln!("not parsing deploy/kubernetes/*.yaml: python3 with PyYAML is missing");
    }

    if on_path("kubectl") {
        // kustomize needs the secret files: stand-ins in a copy.
        let k = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(deploy.join("kubernetes")).unwrap() {
            let f = f.unwrap().path();
            if f.is_file() {
                std::fs::copy(&f, k.path().join(f.file_name().unwrap())).unwrap();
            }
        }
        let secrets = k.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        std::fs::write(secrets.join("team.sec.asc"), "stand-in\n").unwrap();
        std::fs::write(secrets.join("storage.key"), "stand-in\n").unwrap();
        std::fs::write(
            secrets.join("embargo.env"),
            "DATABASE_URL=postgres://embargo@db/embargo\n",
        )
        .unwrap();
        let out = run_ok(Command::new("kubectl").arg("kustomize").arg(k.path()));
        let built = String::from_utf8(out.stdout).unwrap();
        for needle in [
            "kind: Deployment",
            "replicas: 2",
            "kind: Service",
            "kind: ConfigMap",
            "kind: Secret",
            "enableServiceLinks: false",
            "runAsNonRoot: true",
            "readOnlyRootFilesystem: true",
            "- ALL",
            "path: /healthz",
            "path: /readyz",
            "name: EMBARGO_PGP_SECRET_KEYS",
            "name: EMBARGO_STORAGE_KEY_FILE",
            "DATABASE_URL: ",
            "image: ghcr.io/example/embargo:0.1.0",
        ] {
            assert!(built.contains(needle), "kustomize output lacks {needle:?}");
        }
        if python_yaml {
            let mut child = Command::new("python3")
                .args([
                    "-c",
                    "import sys, yaml; docs = [d for d in yaml.safe_load_all(sys.stdin) if d]; \
                     assert {d['kind'] for d in docs} >= {'Deployment', 'Service', 'ConfigMap', 'Secret'}, docs",
                ])
                .stdin(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(built.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        eprintln!("not building deploy/kubernetes: kubectl (kustomize) is missing");
    }

    if on_path("systemd-analyze") {
        // Verify a copy whose ExecStart points at the built binary.
        let d = tempfile::tempdir().unwrap();
        let unit =
            deploy_file("embargo.service").replace("/usr/local/bin/embargo", crate::support::BIN);
        let path = d.path().join("embargo.service");
        std::fs::write(&path, unit).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Only complaints about this unit count (not about the host's).
        let ours: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("embargo.service"))
            .collect();
        assert!(ours.is_empty(), "systemd-analyze verify: {err}");
        for needle in [
            "User=embargo",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "StateDirectory=embargo",
        ] {
            assert!(deploy_file("embargo.service").contains(needle), "{needle}");
        }
    } else {
        eprintln!("not verifying deploy/embargo.service: systemd-analyze is missing");
    }
}
