-- An exchange now locks its device's row before the token's, in the order revoke, re-issue and
-- delete take them (device row, then the device's tokens). Before, an exchange locked only the
-- presented token: a revoke, or a reuse detected on another token of the device, ran its
-- "UPDATE refresh_tokens ... WHERE device_id" while that exchange's successor was not yet
-- committed, so the successor was not revoked and stayed usable (a thief exchanging back to back
-- kept a live chain after the reuse was caught). Now:
--   * every exchange holds the device row FOR SHARE until it commits, so a revoke or re-issue
--     (UPDATE devices, an exclusive row lock) waits for the exchanges in flight and then sees their
--     successors;
--   * a detected reuse takes the device row FOR UPDATE before revoking, which waits the same way.
-- Share locks do not conflict with each other, so exchanges of one device still run side by side.
CREATE OR REPLACE FUNCTION exchange_refresh_token(
    presented_hash bytea, successor_hash bytea, exchanged_at timestamptz, grace_seconds double precision
) RETURNS TABLE (
    outcome text, device_id text, fleet text, labels text, status text, revoked_before bigint,
    created_at timestamptz, last_seen_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    owner text;
    presented refresh_tokens%ROWTYPE;
    device devices%ROWTYPE;
BEGIN
    -- A token's device never changes, so it can be read before any lock is taken.
    SELECT t.device_id INTO owner FROM refresh_tokens t WHERE t.token_hash = presented_hash;
    IF NOT FOUND THEN
        outcome := 'invalid';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO device FROM devices d WHERE d.id = owner FOR SHARE;
    -- FOR UPDATE serialises two exchanges of the same token.
    SELECT * INTO presented FROM refresh_tokens t WHERE t.token_hash = presented_hash FOR UPDATE;
    IF device.id IS NULL OR presented.token_hash IS NULL THEN
        -- The device was deleted (its tokens with it) while this exchange waited.
        outcome := 'invalid';
    ELSIF device.status = 'revoked' THEN
        outcome := 'device_revoked';
    ELSIF presented.revoked THEN
        outcome := 'invalid';
    ELSIF presented.rotated_at IS NOT NULL
        AND exchanged_at - presented.rotated_at > grace_seconds * interval '1 second' THEN
        -- Waits for the device's other exchanges in flight, so their successors are revoked too.
        PERFORM 1 FROM devices d WHERE d.id = owner FOR UPDATE;
        UPDATE refresh_tokens t SET revoked = true WHERE t.device_id = owner;
        outcome := 'reused';
        device_id := owner;
    ELSE
        IF presented.rotated_at IS NULL THEN
            UPDATE refresh_tokens t SET rotated_at = exchanged_at WHERE t.token_hash = presented_hash;
            outcome := 'rotated';
        ELSE
            outcome := 'retried';
        END IF;
        INSERT INTO refresh_tokens (token_hash, device_id, created_at)
        VALUES (successor_hash, owner, exchanged_at);
        device_id := device.id;
        fleet := device.fleet;
        labels := device.labels::text;
        status := device.status;
        revoked_before := device.revoked_before;
        created_at := device.created_at;
        last_seen_at := device.last_seen_at;
    END IF;
    RETURN NEXT;
END
$$;
