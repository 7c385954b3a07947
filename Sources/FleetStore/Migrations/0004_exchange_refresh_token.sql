-- A refresh-token exchange (RFC 6749 §6 with rotation, API.md) in one statement: one round trip
-- instead of a transaction of six, and atomic on its own. The outcome is one of
--   rotated        the presented token is now the previous one; the successor is stored
--   retried        presented again within the grace window: another successor is stored
--   reused         presented after the grace window: every refresh token of the device is revoked
--   device_revoked the device is revoked
--   invalid        unknown or revoked token, or its device is gone
-- with the device's row for rotated and retried, its id alone for reused.
CREATE FUNCTION exchange_refresh_token(
    presented_hash bytea, successor_hash bytea, exchanged_at timestamptz, grace_seconds double precision
) RETURNS TABLE (
    outcome text, device_id text, fleet text, labels text, status text, revoked_before bigint,
    created_at timestamptz, last_seen_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    presented refresh_tokens%ROWTYPE;
    device devices%ROWTYPE;
BEGIN
    -- FOR UPDATE serialises two exchanges of the same token.
    SELECT * INTO presented FROM refresh_tokens WHERE token_hash = presented_hash FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'invalid';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO device FROM devices WHERE id = presented.device_id;
    IF NOT FOUND THEN
        outcome := 'invalid';
    ELSIF device.status = 'revoked' THEN
        outcome := 'device_revoked';
    ELSIF presented.revoked THEN
        outcome := 'invalid';
    ELSIF presented.rotated_at IS NOT NULL
        AND exchanged_at - presented.rotated_at > grace_seconds * interval '1 second' THEN
        UPDATE refresh_tokens SET revoked = true WHERE device_id = presented.device_id;
        outcome := 'reused';
        device_id := presented.device_id;
    ELSE
        IF presented.rotated_at IS NULL THEN
            UPDATE refresh_tokens SET rotated_at = exchanged_at WHERE token_hash = presented_hash;
            outcome := 'rotated';
        ELSE
            outcome := 'retried';
        END IF;
        INSERT INTO refresh_tokens (token_hash, device_id, created_at)
        VALUES (successor_hash, presented.device_id, exchanged_at);
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

-- Many exchanges in one statement, for requests that arrive together (DeviceRepository.exchange
-- batches them with NaturalBatcher): one round trip and one commit for all of them. Tokens are
-- locked in hash order, so two such statements never wait for each other in a cycle. Answers
-- carry the 1-based position asked.
CREATE FUNCTION exchange_refresh_tokens(
    presented_hashes bytea[], successor_hashes bytea[], exchanged_ats timestamptz[], grace_seconds double precision[]
) RETURNS TABLE (
    ordinal integer, outcome text, device_id text, fleet text, labels text, status text, revoked_before bigint,
    created_at timestamptz, last_seen_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
    slot integer;
BEGIN
    FOR slot IN
        SELECT u.ordinality FROM unnest(presented_hashes) WITH ORDINALITY AS u(hash, ordinality) ORDER BY u.hash
    LOOP
        RETURN QUERY SELECT slot, e.* FROM exchange_refresh_token(
            presented_hashes[slot], successor_hashes[slot], exchanged_ats[slot], grace_seconds[slot]
        ) AS e;
    END LOOP;
END
$$;
