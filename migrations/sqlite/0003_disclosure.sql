-- Disclosure (issue 6), SQLite dialect (keep in step with ../postgres/0003_disclosure.sql).
--
-- The agreed public advisory of a report, its approvals, the placeholder
-- issue opened at acceptance and the issue the advisory was published as.
-- Conventions as in 0001: BIGINT unix milliseconds; every *_sealed column is
-- an embargo-seal blob bound to "embargo:<table>:<column>:<report id>".

-- One row per report with an agreed disclosure. `version` counts changes of
-- the embargo end or of any published text: approvals are given for one
-- version, so a change resets them.
CREATE TABLE disclosures (
    report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports (tracking_id),
    version BIGINT NOT NULL CHECK (version >= 1),
    embargo_until BIGINT NOT NULL,
    title_sealed BLOB NOT NULL,
    advisory_sealed BLOB NOT NULL,
    affected_sealed BLOB NOT NULL,
    fixed_sealed BLOB NOT NULL,
    credit_sealed BLOB,
    cve_sealed BLOB,
    approvals_required BIGINT NOT NULL CHECK (approvals_required BETWEEN 1 AND 10),
    scheduled_by TEXT NOT NULL,
    scheduled_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_issue_url TEXT,
    published_repo TEXT,
    published_at BIGINT
);

-- Who approved which version (embargo end and text) of a disclosure, and
-- when. Rows of older versions stay as history.
CREATE TABLE disclosure_approvals (
    report_id TEXT NOT NULL REFERENCES reports (tracking_id),
    version BIGINT NOT NULL,
    login TEXT NOT NULL,
    embargo_until BIGINT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (report_id, version, login)
);

-- The vague public issue opened when a report was accepted (optional per
-- WG), filled in at disclosure instead of opening a second issue.
CREATE TABLE placeholder_issues (
    report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports (tracking_id),
    repo TEXT NOT NULL,
    number BIGINT NOT NULL CHECK (number >= 1),
    url TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
