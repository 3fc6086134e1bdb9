//! The command line (clap). See `shared/CONTRACT.md`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "embargo",
    version,
    about = "Private vulnerability-disclosure gateway"
)]
pub struct Cli {
    /// Where the embedded default keeps its database, keys, outbox and logs.
    #[arg(
        long,
        global = true,
        env = "EMBARGO_DATA",
        default_value = "./embargo-data"
    )]
    pub data: PathBuf,

    /// Config file (default: DIR/embargo.toml when it exists).
    #[arg(long, global = true, env = "EMBARGO_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create DIR, the database, the team key, the storage key and the admin
    /// account. Running it again changes nothing.
    Init,
    /// Run the web view and the LMTP listener until SIGTERM.
    Serve,
    /// File one RFC 5322 message (FILE or stdin), as an MTA pipe delivery.
    /// Exit 0: stored; 75: deliver again later; 65: refused for good.
    Ingest { file: Option<PathBuf> },
    /// The team OpenPGP key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Team accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Outgoing mail.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// The working-group registry.
    #[command(subcommand)]
    Wg(WgCommand),
    /// Release image scans, per WG.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// The bi-weekly security review.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Publish every scheduled report whose embargo has ended.
    Publish {
        /// Publish what is due now (the only mode).
        #[arg(long)]
        due: bool,
    },
    /// Online backup of the embedded SQLite database (sealed) to FILE.
    Backup { file: PathBuf },
    /// Replace the embedded SQLite database by a backup (gateway stopped;
    /// the current database is kept beside it).
    Restore { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Deliver everything due now; exits when only retries are left.
    Flush,
    /// Outbox entries, newest first (state and bookkeeping, no content).
    List {
        #[arg(long)]
        json: bool,
        /// Only entries in this state: queued, sending, sent, dead.
        #[arg(long)]
        state: Option<String>,
    },
    /// Queue a dead-lettered entry again.
    Retry { id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the team public key, ASCII-armored.
    Export,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Every report, newest first.
    List {
        /// JSON on stdout (the only format so far).
        #[arg(long)]
        json: bool,
    },
    /// One report with its messages and audit trail.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Open again every message that stayed unreadable (or whose signer was
    /// unknown) with the current keys.
    RetryDecrypt {
        /// Only this report.
        id: Option<String>,
    },
    /// Record agreed disclosure: embargo end and the public advisory text.
    Schedule {
        id: String,
        /// RFC 3339 instant, or `2026-05-01T14:00[Europe/Berlin]`.
        #[arg(long)]
        at: String,
        /// The advisory (Markdown; optional front matter: title, affected,
        /// fixed, credit, cve).
        #[arg(long)]
        advisory: PathBuf,
        #[arg(long)]
        by: String,
    },
    /// Confirm a triaged report as a vulnerability the project will fix.
    Accept {
        id: String,
        /// Who does it (recorded in the audit trail).
        #[arg(long)]
        by: String,
    },
    /// Approve the scheduled disclosure (two-person rule).
    Approve {
        id: String,
        #[arg(long)]
        by: String,
    },
    /// Take back an agreed disclosure (back to accepted).
    Unschedule {
        id: String,
        #[arg(long)]
        by: String,
    },
    /// The reporter withdrew the report; cancels any publication.
    Withdraw {
        id: String,
        #[arg(long)]
        by: String,
    },
    /// Queue a failed publication again.
    RetryPublication {
        id: String,
        #[arg(long)]
        by: String,
    },
    /// A published advisory as OSV or CSAF 2.0 JSON.
    Export {
        id: String,
        #[arg(long, default_value = "osv")]
        format: String,
    },
    /// Route a report to a WG and rate its severity.
    Triage {
        id: String,
        #[arg(long)]
        wg: String,
        #[arg(long)]
        severity: Option<String>,
        /// Who does it (recorded in the audit trail).
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a team account and print its one-time password.
    Add {
        login: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        wg: Option<String>,
        /// Where the member gets team copies and notices.
        #[arg(long)]
        email: Option<String>,
        /// The member's OpenPGP public key (armored file): team copies are
        /// encrypted to it and replies signed with it are relayed.
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WgCommand {
    /// Read a Kubeflow-style wgs.yaml into the registry (hand-set fields
    /// kept).
    Import { file: PathBuf },
    /// The registry as JSON.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Import Trivy/Grype JSON files or a Kubeflow-manifests scan directory,
    /// then send each WG's leads their slice (once per WG and release).
    Import {
        path: PathBuf,
        #[arg(long)]
        release: String,
        /// Import only; `scan send` sends the slices later.
        #[arg(long)]
        no_send: bool,
    },
    /// Send each WG's leads their slice of a release (encrypted to their
    /// key, else a content-free notice); a WG's slice goes out once.
    Send {
        #[arg(long)]
        release: String,
    },
    /// Per-WG severity counts of a release.
    Summary {
        #[arg(long)]
        release: String,
        #[arg(long)]
        json: bool,
    },
    /// What is new and what got fixed in a release against the previous
    /// stored release (version order), per WG and finding by finding.
    Changes {
        #[arg(long)]
        release: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Every open report by WG, public security issues since the last
    /// review, overdue items first.
    Agenda {
        /// Start of the window (default: the last review marked done).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value = "json")]
        format: String,
    },
    /// Record that the review took place; the next agenda starts here.
    Done {
        #[arg(long)]
        by: String,
    },
}
