-- A deleted device's revocation cut-off, so an id enrolled again starts past every token the old
-- device could hold, even within the same second.
ALTER TABLE device_tombstones ADD COLUMN revoked_before bigint NOT NULL DEFAULT 0;
