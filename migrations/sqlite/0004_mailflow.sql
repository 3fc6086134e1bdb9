-- Keys learned from a report's reporter (Autocrypt, attached keys), sealed:
-- a certificate names its owner.
CREATE TABLE reporter_keys (
    id TEXT PRIMARY KEY NOT NULL,
    report_id TEXT NOT NULL REFERENCES reports (tracking_id),
    cert_sealed BLOB NOT NULL,
    learned_at BIGINT NOT NULL
);
CREATE INDEX reporter_keys_report ON reporter_keys (report_id);

-- Outgoing messages by Message-ID hash, so a delivery status notification
-- finds the outbox entry it is about.
CREATE TABLE outbox_messages (
    message_id_hash TEXT PRIMARY KEY NOT NULL,
    outbox_id TEXT NOT NULL REFERENCES outbox (id),
    report_id TEXT REFERENCES reports (tracking_id),
    kind TEXT NOT NULL
);
CREATE INDEX outbox_messages_outbox ON outbox_messages (outbox_id);
