#!/usr/bin/env python3
"""Helpers of reliability/run.sh: summarise a simulator report, probe per-request latency
under load, and render the results table. Standard library only."""
import http.client
import json
import sys
import time
import urllib.parse
import zlib


def sim(path):
    """A simulator report (--report FILE.json) as key=value lines."""
    r = json.load(open(path))
    v = r.get("verification") or {}
    lat = r["latency_ms"]
    out = {
        "scheduled": r["scheduled"], "skipped": r["skipped"], "attempts": r["attempts"],
        "retries": r["retries"], "ack_batches": r["acknowledged_batches"],
        "ack_records": r["acknowledged_records"], "dup_on_retry": r["duplicate_on_retry"],
        "dup_first": r["duplicate_on_first_attempt"], "failed": r["failed_batches"],
        "in_doubt": r["in_doubt_batches"], "req_per_s": round(r["requests_per_second"], 1),
        "records_per_s": round(r["records_per_second"], 1), "elapsed": round(r["elapsed_seconds"], 1),
        "p50_ms": round(lat["p50"], 1), "p99_ms": round(lat["p99"], 1), "max_ms": round(lat["max"], 1),
        "answers": json.dumps(r["answers_by_status"], sort_keys=True, separators=(",", ":")),
        "errors": json.dumps(r["errors_by_code"], sort_keys=True, separators=(",", ":")),
        "s503": r["answers_by_status"].get("503", 0), "s429": r["answers_by_status"].get("429", 0),
        "s401": r["answers_by_status"].get("401", 0),
        "token_refreshes": r["token_refreshes"],
        "refresh_failures": json.dumps(r["token_refresh_failures"], sort_keys=True, separators=(",", ":")),
        "violations": len(r["violations"]),
        "verified": "yes" if v else "no",
        "stored": v.get("stored", ""), "in_doubt_stored": v.get("inDoubtStored", ""),
        "lost": v.get("lost", ""), "duplicated": v.get("duplicated", ""),
    }
    for k, val in out.items():
        print(f"{k}={val}")


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1)]


def probe(provisioning, ingest, credentials, seconds, interval, out):
    """Posts one 4-record batch every `interval` s on one keep-alive connection for `seconds`,
    as a device of its own, and records each answer's status and latency (one attempt each, no
    retry): what a fresh client sees while the simulator loads ingest."""
    cred = json.loads(open(credentials).readline())
    p = urllib.parse.urlsplit(provisioning)
    c = http.client.HTTPConnection(p.hostname, p.port, timeout=10)
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": cred["refresh_token"]})
    c.request("POST", "/v1/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
    grant = json.loads(c.getresponse().read())
    token = grant["access_token"]
    u = urllib.parse.urlsplit(ingest)
    conn = None
    results = []  # (status, ms)
    end = time.monotonic() + seconds
    n = 0
    last_ms = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        ms = max(int(time.time() * 1000), last_ms + 2)
        last_ms = ms
        body = json.dumps([{"bn": cred["id"] + "/", "bt": ms / 1000, "n": "probe", "v": n},
                           {"n": "probe2", "v": n}, {"n": "probe3", "v": n}, {"n": "probe4", "v": n}])
        data = zlib.compress(body.encode(), 1)
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/senml+json",
                   "Content-Encoding": "deflate", "Idempotency-Key": f"probe-{ms}-{n}"}
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("POST", "/v1/telemetry", data, headers)
            resp = conn.getresponse()
            resp.read()
            status = str(resp.status)
            if resp.getheader("Connection", "").lower() == "close":
                conn.close(); conn = None
        except Exception as e:  # timeout or closed connection
            status = "timeout" if "timed out" in str(e) else "connection_error"
            conn = None
        results.append((status, (time.monotonic() - t0) * 1000))
        n += 1
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))
    summary = {}
    for status in sorted({s for s, _ in results}):
        ms = [m for s, m in results if s == status]
        summary[status] = {"count": len(ms), "p50": round(pct(ms, 50), 1), "p99": round(pct(ms, 99), 1),
                           "max": round(max(ms), 1)}
    json.dump({"device": cred["id"], "sent": len(results), "by_status": summary}, open(out, "w"), indent=1)


def burst(provisioning, ingest, credentials, n, out):
    """Gets fresh access tokens for the first `n` devices of a credentials file (rotating their
    refresh tokens, written back), then posts one batch per device all at once (a barrier), and
    records each answer's status and code: right after a key rotation, ingest meets the new kid
    on many connections at the same moment."""
    import threading
    creds = [json.loads(line) for line in open(credentials) if line.strip()]
    p = urllib.parse.urlsplit(provisioning)
    tokens = []
    for cred in creds[:n]:
        c = http.client.HTTPConnection(p.hostname, p.port, timeout=10)
        form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": cred["refresh_token"]})
        c.request("POST", "/v1/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
        grant = json.loads(c.getresponse().read())
        cred["refresh_token"] = grant.get("refresh_token", cred["refresh_token"])
        tokens.append((cred["id"], grant["access_token"]))
    with open(credentials, "w") as f:
        for cred in creds:
            f.write(json.dumps(cred) + "\n")
    u = urllib.parse.urlsplit(ingest)
    conns = []
    for _ in tokens:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.connect()
        conns.append(conn)
    barrier = threading.Barrier(len(tokens))
    answers = [None] * len(tokens)
    ms = int(time.time() * 1000) + 1000

    def post(i):
        device, token = tokens[i]
        body = json.dumps([{"bn": device + "/", "bt": ms / 1000, "n": "burst", "v": i}])
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/senml+json",
                   "Content-Encoding": "deflate", "Idempotency-Key": f"burst-{ms}-{i}"}
        data = zlib.compress(body.encode(), 1)
        barrier.wait()
        try:
            conns[i].request("POST", "/v1/telemetry", data, headers)
            r = conns[i].getresponse()
            text = r.read().decode(errors="replace")
            code = ""
            if r.status != 200:
                try:
                    code = json.loads(text).get("code", "")
                except ValueError:
                    pass
            answers[i] = f"{r.status} {code}".strip()
        except Exception as e:
            answers[i] = "error " + type(e).__name__

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    kids = sorted({json.loads(base64_part(t.split(".")[0])).get("kid", "") for _, t in tokens})
    json.dump({"posts": len(tokens), "answers": counts, "kids": kids}, open(out, "w"), indent=1)


def base64_part(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rss(path):
    """Max and last VmRSS samples (KiB) as MiB."""
    vals = [int(x) for x in open(path).read().split() if x.strip().isdigit()]
    print(f"rss_max_mib={max(vals) / 1024:.0f}" if vals else "rss_max_mib=")
    print(f"rss_samples={len(vals)}")


def server_503(path, since_line):
    """Durations (ms) of the 503 answers ingest logged (RequestLoggerMiddleware logs every
    answer >= 500 with its duration), from line `since_line` of its log on."""
    ms = []
    with open(path, errors="replace") as f:
        for i, line in enumerate(f):
            if i < since_line or "status=503" not in line:
                continue
            for part in line.split():
                if part.startswith("ms="):
                    try:
                        ms.append(float(part[3:]))
                    except ValueError:
                        pass
    print(f"server_503_logged={len(ms)}")
    print(f"server_503_p50_ms={pct(ms, 50):.1f}")
    print(f"server_503_p99_ms={pct(ms, 99):.1f}")
    print(f"server_503_max_ms={max(ms) if ms else 0:.1f}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sim":
        sim(args[0])
    elif cmd == "probe":
        probe(args[0], args[1], args[2], float(args[3]), float(args[4]), args[5])
    elif cmd == "burst":
        burst(args[0], args[1], args[2], int(args[3]), args[4])
    elif cmd == "rss":
        rss(args[0])
    elif cmd == "server503":
        server_503(args[0], int(args[1]))
    else:
        sys.exit(f"unknown command {cmd}")
