#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  mint     refresh tokens -> access tokens through POST /v1/token (threads, keep-alive)
  bodies   access tokens -> PAIRS files for bench/telemetry.lua (deflated SenML, batch sizes)
  bomb     write one zlib bomb (~1 MB compressed, inflating to ~1 GB of zeros)
  bombs    post a zlib bomb N times with C concurrent connections, count the answers
  timed    run a command and print its wall, user and system seconds (wait4 rusage) as JSON
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import zlib


def connection(url):
    assert url.startswith("http://")
    hostport = url[len("http://"):].split("/", 1)[0]
    host, port = hostport.split(":")
    return lambda: http.client.HTTPConnection(host, int(port), timeout=30)


def mint(args):
    """Exchanges each refresh token once; writes "device_id access_token" lines."""
    lines = [json.loads(line) for line in open(args.credentials) if line.strip()]
    connect = connection(args.url)
    local = threading.local()
    failures = []

    def one(credential):
        if not hasattr(local, "conn"):
            local.conn = connect()
        body = json.dumps({"grant_type": "refresh_token", "refresh_token": credential["refresh_token"]})
        for attempt in range(3):
            try:
                local.conn.request("POST", "/v1/token", body, {"Content-Type": "application/json"})
                response = local.conn.getresponse()
                data = response.read()
                if response.status != 200:
                    failures.append(f"{credential['id']}: {response.status} {data[:200]!r}")
                    return None
                return credential["id"], json.loads(data)["access_token"]
            except (OSError, http.client.HTTPException):
                local.conn.close()
                local.conn = connect()
        failures.append(f"{credential['id']}: connection failed")
        return None

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        results = [r for r in pool.map(one, lines) if r]
    elapsed = time.monotonic() - start
    with open(args.out, "w") as out:
        for device, token in results:
            out.write(f"{device} {token}\n")
    print(json.dumps({"minted": len(results), "failed": len(failures), "seconds": round(elapsed, 2)}))
    for failure in failures[:5]:
        print("  " + failure, file=sys.stderr)
    if not results:
        sys.exit(1)


SENSORS = [("temp", "Cel", 21.0), ("humidity", "%RH", 45.0), ("pressure", "Pa", 101325.0),
           ("voltage", "V", 3.3), ("current", "A", 0.12), ("rssi", "dBW", -67.0)]


def pack(device, records, now, rng):
    """A realistic SenML pack: base name per device, absolute bt = now, distinct names."""
    out = []
    for j in range(records):
        sensor, unit, base = SENSORS[j % len(SENSORS)]
        value = round(base * (1 + rng.uniform(-0.02, 0.02)), 3)
        record = {"n": f"{sensor}_{j}", "u": unit, "v": value}
        if j == 0:
            record = {"bn": f"{device}/", "bt": now, **record}
        else:
            record["t"] = round(j / 1000, 3)
        out.append(record)
    return json.dumps(out, separators=(",", ":")).encode()


def bodies(args):
    tokens = [line.split() for line in open(args.tokens) if line.strip()]
    rng = random.Random(42)
    now = round(time.time(), 3)
    summary = {}
    for batch in [int(b) for b in args.batches.split(",")]:
        path = args.out.replace("{n}", str(batch))
        raw = compressed = 0
        with open(path, "wb") as out:
            for device, token in tokens:
                text = pack(device, batch, now, rng)
                body = zlib.compress(text, 6)
                raw += len(text)
                compressed += len(body)
                out.write(f"{token}\n{len(body)}\n".encode() + body + b"\n")
        summary[batch] = {"pairs": len(tokens), "avg_json_bytes": raw // len(tokens),
                          "avg_deflated_bytes": compressed // len(tokens)}
    print(json.dumps(summary))


def bomb(args):
    """zlib stream of zeros, compressed until it is just under --bytes."""
    if os.path.exists(args.out) and os.path.getsize(args.out) > 0:
        print(json.dumps({"bomb_bytes": os.path.getsize(args.out), "cached": True}))
        return
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts, size, inflated = [], 0, 0
    while size < args.bytes - 4096:
        piece = compressor.compress(chunk)
        parts.append(piece)
        size += len(piece)
        inflated += len(chunk)
    parts.append(compressor.flush())
    data = b"".join(parts)
    with open(args.out, "wb") as out:
        out.write(data)
    print(json.dumps({"bomb_bytes": len(data), "inflates_to": inflated}))


def bombs(args):
    data = open(args.bomb, "rb").read()
    token = open(args.tokens).readline().split()[1]
    connect = connection(args.url)
    local = threading.local()
    statuses = {}
    lock = threading.Lock()

    def one(_):
        if not hasattr(local, "conn"):
            local.conn = connect()
        try:
            local.conn.request("POST", "/v1/telemetry", data, {
                "Authorization": "Bearer " + token, "Content-Type": "application/senml+json",
                "Content-Encoding": "deflate"})
            response = local.conn.getresponse()
            body = response.read()
            try:
                key = f"{response.status} {json.loads(body).get('code', '')}".strip()
            except ValueError:
                key = str(response.status)
            if response.getheader("Connection", "").lower() == "close":
                local.conn.close()
                local.conn = connect()
        except (OSError, http.client.HTTPException) as error:
            key = type(error).__name__
            local.conn.close()
            local.conn = connect()
        with lock:
            statuses[key] = statuses.get(key, 0) + 1

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(one, range(args.count)))
    print(json.dumps({"answers": statuses, "seconds": round(time.monotonic() - start, 2),
                      "bomb_bytes": len(data), "concurrency": args.concurrency}))


def timed(args):
    start = time.monotonic()
    process = subprocess.Popen(args.command)
    with open(args.pid_file, "w") as f:
        f.write(str(process.pid))
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    print("TIMEDJSON " + json.dumps({"wall_s": round(wall, 3), "user_s": usage.ru_utime,
                                     "sys_s": usage.ru_stime, "exit": code, "maxrss_kb": usage.ru_maxrss}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="tool", required=True)
    p = sub.add_parser("mint")
    p.add_argument("--credentials", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=16)
    p.set_defaults(run=mint)
    p = sub.add_parser("bodies")
    p.add_argument("--tokens", required=True)
    p.add_argument("--batches", default="1,10,100")
    p.add_argument("--out", required=True, help="path with {n} for the batch size")
    p.set_defaults(run=bodies)
    p = sub.add_parser("bomb")
    p.add_argument("--out", required=True)
    p.add_argument("--bytes", type=int, default=1_000_000)
    p.set_defaults(run=bomb)
    p = sub.add_parser("bombs")
    p.add_argument("--bomb", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=8)
    p.set_defaults(run=bombs)
    p = sub.add_parser("timed")
    p.add_argument("--pid-file", required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(run=timed)
    args = parser.parse_args()
    if args.tool == "timed" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    args.run(args)


if __name__ == "__main__":
    main()
