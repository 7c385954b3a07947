-- An exchange waits for its refresh token's row lock (FOR UPDATE). Provisioning gives up on an
-- exchange after 30 s and closes its connection, but PostgreSQL does not notice a closed client
-- while a backend waits for a lock: it would take the lock later and commit a rotation nobody
-- was answered for, and every retry would queue one more backend behind it. A lock is normally
-- held for milliseconds, so past 20 s the exchange fails and rolls back instead.
ALTER FUNCTION exchange_refresh_tokens(bytea[], bytea[], timestamptz[], double precision[])
    SET lock_timeout = '20s';
