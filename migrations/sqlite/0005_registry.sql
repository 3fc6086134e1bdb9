-- The security team's processes (issue 7): WG registry, release scans per
-- WG, import runs, bi-weekly reviews, WG-lead digests. SQLite dialect; keep
-- in step with ../postgres/0005_registry.sql.

-- One row per WG as imports (wgs.yaml) and hand edits left it; the
-- embargo.toml [[wg]] tables are applied on top when the registry is
-- loaded, never stored. Lists are newline-separated text (their values
-- never hold a line break). Leads (addresses, OpenPGP keys: personal data)
-- are sealed, bound to "embargo:wg_registry:leads_sealed:<name>".
CREATE TABLE wg_registry (
    name TEXT PRIMARY KEY NOT NULL,
    title TEXT,
    repos TEXT NOT NULL,
    labels TEXT NOT NULL,
    images TEXT NOT NULL,
    paths TEXT NOT NULL,
    keywords TEXT NOT NULL,
    hand_set TEXT NOT NULL,
    leads_sealed BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row: writers of the registry bump it first, which serialises them
-- (read, merge, write) on both backends.
CREATE TABLE wg_registry_version (
    id BIGINT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO wg_registry_version (id, version, updated_at) VALUES (1, 0, 0);

-- Every import (wgs.yaml, release scans): who, when, what came of it.
-- `summary` holds counts and WG names only, never personal data.
CREATE TABLE import_runs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('wgs', 'scan')),
    release TEXT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    source_sha256 TEXT,
    files_ok BIGINT NOT NULL,
    files_failed BIGINT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX import_runs_kind ON import_runs (kind, at);

-- Release scans: findings are public vulnerability data about public
-- images, kept in clear so they can be queried.
CREATE TABLE scan_releases (
    release TEXT PRIMARY KEY NOT NULL,
    import_id TEXT NOT NULL REFERENCES import_runs (id),
    imported_at BIGINT NOT NULL,
    images BIGINT NOT NULL,
    findings BIGINT NOT NULL
);

-- Every scanned image of a release and its WG (NULL: unmapped); an image
-- of several WGs has one row per WG.
CREATE TABLE scan_images (
    release TEXT NOT NULL REFERENCES scan_releases (release),
    image TEXT NOT NULL,
    wg TEXT
);
CREATE INDEX scan_images_release ON scan_images (release, wg);

CREATE TABLE scan_findings (
    release TEXT NOT NULL REFERENCES scan_releases (release),
    wg TEXT,
    image TEXT NOT NULL,
    vuln_id TEXT NOT NULL,
    package TEXT NOT NULL,
    installed TEXT NOT NULL,
    fixed TEXT,
    severity TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'UNKNOWN'))
);
CREATE INDEX scan_findings_release ON scan_findings (release, wg, severity);

-- Bi-weekly reviews marked done: who and when; the next agenda starts at
-- the latest.
CREATE TABLE review_runs (
    id TEXT PRIMARY KEY NOT NULL,
    done_at BIGINT NOT NULL,
    done_by TEXT NOT NULL,
    since BIGINT
);
CREATE INDEX review_runs_done ON review_runs (done_at, id);

-- Mail to WG leads sent once per key: kind 'digest' (run_key: the period
-- start, unix ms) or 'scan' (run_key: the release). The primary key makes
-- the claim exclusive across processes.
CREATE TABLE digest_runs (
    kind TEXT NOT NULL CHECK (kind IN ('digest', 'scan')),
    wg TEXT NOT NULL,
    run_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    recipients BIGINT NOT NULL,
    encrypted BIGINT NOT NULL,
    notices BIGINT NOT NULL,
    PRIMARY KEY (kind, wg, run_key)
);
CREATE INDEX digest_runs_wg ON digest_runs (kind, wg, created_at);
