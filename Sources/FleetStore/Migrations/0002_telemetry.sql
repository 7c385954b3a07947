-- Telemetry: one row per resolved SenML record, range-partitioned by day on time. Every row
-- carries device_id and no constraint spans devices, so the table can be distributed (Citus).
CREATE TABLE telemetry (
    device_id    text NOT NULL,
    time         timestamptz NOT NULL,
    name         text NOT NULL,
    unit         text,
    value        double precision,
    string_value text,
    bool_value   boolean,
    data_value   text,
    sum          double precision
) PARTITION BY RANGE (time);
CREATE INDEX telemetry_device_name_time ON telemetry (device_id, name, time DESC);

-- Idempotency keys: the same key from the same device within 24 h is stored once.
CREATE TABLE idempotency_keys (
    device_id  text NOT NULL,
    key        text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
