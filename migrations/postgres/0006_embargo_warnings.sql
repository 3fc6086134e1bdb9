-- Embargo warnings (issue 6), PostgreSQL dialect; keep in step with
-- ../sqlite/0006_embargo_warnings.sql.
--
-- One row per warning sent before an embargo end (by default 14 and 2 days
-- before it), written in the transaction that queues the warning mail. The
-- primary key makes a warning go out once per report and embargo end, however
-- many schedulers (serve replicas, `publish --due`) run at once: the second
-- insert of the same key does nothing, and its transaction queues nothing.
-- A new embargo end (rescheduled) is a new warning. No content: IDs, days,
-- times and counts only.
CREATE TABLE embargo_warnings (
    report_id TEXT NOT NULL REFERENCES reports (tracking_id),
    -- The warning: this many days before the end.
    days_before BIGINT NOT NULL CHECK (days_before >= 1),
    -- The embargo end it warned of.
    embargo_until BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    -- Messages queued: all, and of those encrypted.
    recipients BIGINT NOT NULL CHECK (recipients >= 0),
    encrypted BIGINT NOT NULL CHECK (encrypted >= 0),
    PRIMARY KEY (report_id, days_before, embargo_until)
);
