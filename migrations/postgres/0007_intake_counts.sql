-- How the gateway answered the mail handed to it, by channel (the LMTP
-- listener of any `serve`, or `embargo ingest` from an MTA pipe), counted
-- by every process in the one shared store so that /metrics of any replica
-- shows the totals (keep in step with ../sqlite/0007_intake_counts.sql).
CREATE TABLE intake_counts (
    channel TEXT NOT NULL CHECK (channel IN ('lmtp', 'pipe')),
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'tempfail', 'refused', 'undecryptable')),
    count BIGINT NOT NULL,
    PRIMARY KEY (channel, outcome)
);
