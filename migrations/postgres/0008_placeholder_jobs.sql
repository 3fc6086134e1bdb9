-- Attempts to open a report's placeholder issue (issue 6 point 5), one row
-- per report, claimed with a lease like publication_jobs (keep in step with
-- ../sqlite/0008_placeholder_jobs.sql).
--
-- An attempt (report accept from the CLI or the admin view, an admin's
-- retry, any replica) claims the row before it searches GitHub for the
-- report's marker and creates the issue: a second attempt meanwhile finds
-- it running under a live lease and does nothing. 'done' is final (the
-- issue is in placeholder_issues, recorded in the same transaction);
-- 'failed' keeps the reason and is claimable again (a retry); a 'running'
-- row whose lease ran out (its process died) is claimable again.
-- last_error is a short reason (GitHub's status, configuration), never
-- report content.
CREATE TABLE placeholder_jobs (
    report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports (tracking_id),
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    issue_url TEXT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
