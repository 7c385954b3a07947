-- Operators, devices, refresh tokens and signing keys: the control plane's registry.
CREATE TABLE operators (
    username      text PRIMARY KEY,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id             text PRIMARY KEY,
    fleet          text NOT NULL DEFAULT 'default',
    labels         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    -- Tokens issued before this Unix second are refused (see RevocationView).
    revoked_before bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz
);
CREATE INDEX devices_fleet_id ON devices (fleet, id);

CREATE TABLE refresh_tokens (
    token_hash    bytea PRIMARY KEY,
    device_id     text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when the token was exchanged; it stays usable until rotated_at + grace.
    rotated_at    timestamptz,
    revoked       boolean NOT NULL DEFAULT false
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);

CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,
    -- PKCS#8 DER sealed with AES-256-GCM under the key-encryption key, kid as associated data.
    private_sealed  bytea NOT NULL,
    public_n        text NOT NULL,
    public_e        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- NULL while current; once retired the key is published until every token it signed expired.
    retired_at      timestamptz,
    publish_until   timestamptz
);
-- At most one current key, whichever replica created it.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;

-- Deleted devices, kept while tokens they held could still be live (24 h, the longest lifetime),
-- so every ingest node keeps refusing those tokens after a full reload of its revocation view.
CREATE TABLE device_tombstones (
    id         text PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
