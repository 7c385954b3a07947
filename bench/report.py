#!/usr/bin/env python3
"""Turns bench/run.sh's results file into ONE table (benchmark | figure | target | met?), prints
it, and with --record appends a dated section to BENCHMARKS.md. It only reports what was
measured: a figure that is missing says so, and "met?" compares the figure with the target of
issues 3, 4 and 5 as it is, nothing adjusted."""
import argparse
import json
import os
import sys


def load(path):
    values = {}
    for line in open(path):
        line = line.rstrip("\n")
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def js(values, key):
    try:
        return json.loads(values[key])
    except (KeyError, ValueError):
        return None


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def fmt(value, digits=0):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}".replace(",", " ")


OPENSSL_RUNS = ["before_tokens", "after_tokens", "before_micro", "after_micro"]


def openssl_mean(values, kind, step):
    """openssl's rate for `kind` (sign or verify) around `step` (tokens or micro): the mean of the
    runs just before and after it, and the two figures as text for the table."""
    pair = [num(values.get(f"openssl_{kind}_{side}_{step}")) for side in ("before", "after")]
    pair = [p for p in pair if p]
    if not pair:
        return None, ""
    mean = sum(pair) / len(pair)
    return mean, (f" (mean of {fmt(pair[0])} before and {fmt(pair[1])} after)" if len(pair) == 2 else "")


def openssl_runs(values):
    runs = [(name, num(values.get(f"openssl_sign_{name}")), num(values.get(f"openssl_verify_{name}")))
            for name in OPENSSL_RUNS]
    text = ", ".join(f"{name.replace('_', ' ')} {fmt(sign)} sign/s and {fmt(verify)} verify/s"
                     for name, sign, verify in runs if sign)
    return text or "not measured"


def met(ok):
    if ok is None:
        return "n/a"
    return "yes" if ok else "**no**"


def usage(values, name, wall, service, service_cpu):
    """"ingest 1.10 cores, wrk 0.45, machine 1.98 of 2 busy": who had the CPU during a run."""
    parts = []
    if service_cpu is not None:
        parts.append(f"{service} {service_cpu / wall:.2f} cores")
    pg = num(values.get(f"{name}_pg_cpu_s"))
    if pg is not None:
        parts.append(f"PostgreSQL {pg / wall:.2f}")
    wrk = js(values, f"{name}_wrk_json")
    if wrk:
        parts.append(f"wrk {(wrk['user_s'] + wrk['sys_s']) / wall:.2f}")
    busy = num(values.get(f"{name}_machine_busy_cores"))
    if busy is not None:
        parts.append(f"machine {busy:.2f} of {values.get('nproc', '?')} busy")
    return ", ".join(parts)


def build(values):
    rows = []  # (benchmark, figure, target, met)

    def row(name, figure, target="", ok=None):
        rows.append((name, figure, target, met(ok) if target else "(info)"))

    # Provisioning: bulk enrollment.
    bulk_s = num(values.get("bulk_seconds"))
    devices = int(num(values.get("bulk_devices")) or 0)
    enrolled = int(num(values.get("bulk_enrolled")) or 0)
    errors = int(num(values.get("bulk_errors")) or 0)
    row(f"provisioning: bulk enrollment of {fmt(devices)} devices (POST /v1/devices/bulk, text/csv, one request)",
        f"{fmt(bulk_s, 2)} s ({fmt(enrolled)} enrolled, {errors} error lines)", "≤ 10 s",
        None if bulk_s is None else (bulk_s <= 10 and enrolled == devices))

    # Provisioning: tokens.
    sign, sign_pair = openssl_mean(values, "sign", "tokens")
    token = js(values, "token_json")
    cpu = num(values.get("token_cpu_s"))
    if token:
        wall = token["duration_us"] / 1e6
        ok_requests = token["requests"] - token["status_errors"]
        per_s = ok_requests / wall
        cores = cpu / wall if cpu is not None else None
        bad = token["status_errors"] + token["connect_errors"] + token["read_errors"] + token["timeouts"]
        row("provisioning: access tokens issued (POST /v1/token, wrk -t2 -c32, a new refresh token each)",
            f"{fmt(per_s)} tokens/s; p50 {fmt(token['p50_us'] / 1000, 1)} ms, p99 {fmt(token['p99_us'] / 1000, 1)} ms; "
            f"{bad} non-2xx/errors; {usage(values, 'token', wall, 'provisioning', cpu)}")
        if cores and sign:
            per_core = per_s / cores
            ratio = per_core / sign
            row("provisioning: tokens per core-second ÷ `openssl speed rsa2048` sign/s (same run, just before and after)",
                f"{fmt(per_core)} tokens/core-s ÷ {fmt(sign)} sign/s{sign_pair} = {ratio:.2f}", "≥ 0.8", ratio >= 0.8)
            multi = num(values.get("openssl_sign_multi2"))
            if multi:
                row("provisioning: tokens per core-second ÷ one core's sign/s with both cores signing "
                    "(`openssl speed -multi 2 rsa2048`, after the tokens)",
                    f"{fmt(per_core)} ÷ {fmt(multi / 2)} sign/s ({fmt(multi)} for two) = {per_core / (multi / 2):.2f}; "
                    f"one core with the other busy signs {multi / 2 / sign:.2f} × its idle-machine rate")
    else:
        row("provisioning: access tokens issued (POST /v1/token)", "not measured (step failed)", "≥ 0.8 × sign/s", None)

    # Ingest load runs.
    for name, batch, label in [("batch100", 100, "batch 100"), ("batch10", 10, "batch 10"), ("batch1", 1, "batch 1")]:
        run = js(values, f"{name}_json")
        rows_committed = num(values.get(f"{name}_rows"))
        if not run:
            row(f"ingest: {label}, 64 connections", "not measured (step failed)", "", None)
            continue
        wall = run["duration_us"] / 1e6
        ok_requests = run["requests"] - run["status_errors"]
        committed_per_s = rows_committed / wall if rows_committed is not None else None
        bad = run["status_errors"] + run["connect_errors"] + run["read_errors"] + run["timeouts"]
        cores = num(values.get(f"{name}_ingest_cpu_s"))
        who = usage(values, name, wall, "ingest", cores)
        detail = (f"{fmt(ok_requests / wall)} req/s 2xx, p50 {fmt(run['p50_us'] / 1000, 2)} ms, "
                  f"p99 {fmt(run['p99_us'] / 1000, 2)} ms, {bad} non-2xx/errors; {who}")
        if batch == 100:
            row("ingest: batch 100, 64 connections — committed records/s (rows counted in PostgreSQL)",
                f"{fmt(committed_per_s)} records/s ({detail})", "≥ 150 000",
                None if committed_per_s is None else committed_per_s >= 150_000)
        elif batch == 10:
            row("ingest: batch 10, 64 connections — committed records/s",
                f"{fmt(committed_per_s)} records/s ({detail})", "≥ 100 000",
                None if committed_per_s is None else committed_per_s >= 100_000)
        else:
            row("ingest: batch 1, 64 connections — req/s (2xx)",
                f"{fmt(ok_requests / wall)} req/s ({fmt(committed_per_s)} records/s committed; "
                f"{bad} non-2xx/errors; {who})", "≥ 15 000", ok_requests / wall >= 15_000)
            row("ingest: batch 1, 64 connections — p99 latency",
                f"{fmt(run['p99_us'] / 1000, 2)} ms (p50 {fmt(run['p50_us'] / 1000, 2)} ms)", "< 20 ms",
                run["p99_us"] / 1000 < 20)
    # The usual design on the same machine, load and table (Benchmarks/fleetgate-baseline-ingest).
    # The issue gives the usual design's figure on its machine for batches 100 (95 000 records/s)
    # and 1 (3 000 req/s); its target over that figure is the ratio asked for here.
    for batch, usual, target in [(100, 95_000, 150_000), (10, None, 100_000), (1, 3_000, 15_000)]:
        ours, base = js(values, f"batch{batch}_json"), js(values, f"base{batch}_json")
        ours_rows, base_rows = num(values.get(f"batch{batch}_rows")), num(values.get(f"base{batch}_rows"))
        if not base or base_rows is None:
            row(f"baseline (usual design): batch {batch}, 64 connections", "not measured (step failed)")
            continue
        wall = base["duration_us"] / 1e6
        bad = base["status_errors"] + base["connect_errors"] + base["read_errors"] + base["timeouts"]
        cores = num(values.get(f"base{batch}_ingest_cpu_s"))
        row(f"baseline (usual design, one INSERT transaction per request): batch {batch}, 64 connections",
            f"{fmt(base_rows / wall)} records/s committed ({fmt((base['requests'] - base['status_errors']) / wall)} req/s 2xx, "
            f"p50 {fmt(base['p50_us'] / 1000, 2)} ms, p99 {fmt(base['p99_us'] / 1000, 2)} ms, {bad} non-2xx/errors; "
            f"{usage(values, f'base{batch}', wall, 'baseline', cores)})")
        if ours and ours_rows is not None and base_rows > 0:
            ratio = (ours_rows / (ours["duration_us"] / 1e6)) / (base_rows / wall)
            if usual:
                asked = target / usual
                row(f"ingest ÷ baseline, batch {batch}: committed records/s (same run)", f"{ratio:.2f} ×",
                    f"≥ {asked:.2f} × (the issue's {fmt(target)} ÷ its usual design's {fmt(usual)})", ratio >= asked)
            else:
                row(f"ingest ÷ baseline, batch {batch}: committed records/s (same run)", f"{ratio:.2f} ×")
    single = js(values, "single10_json")
    if single:
        wall = single["duration_us"] / 1e6
        row("ingest: 1 connection, batch 10 — p50 latency",
            f"{fmt(single['p50_us'] / 1000, 3)} ms (p99 {fmt(single['p99_us'] / 1000, 2)} ms, "
            f"{fmt(single['requests'] / wall)} req/s; "
            f"{usage(values, 'single10', wall, 'ingest', num(values.get('single10_ingest_cpu_s')))})",
            "< 1 ms", single["p50_us"] / 1000 < 1)
    hwm = num(values.get("ingest_vmhwm_kb"))
    row("ingest: peak RSS (VmHWM, process lifetime up to the end of the load runs)",
        f"{fmt(hwm / 1024 if hwm else None, 1)} MiB", "< 250 MiB", None if hwm is None else hwm / 1024 < 250)
    before = num(values.get("bomb_rss_before_kb"))
    after = num(values.get("bomb_rss_after_kb"))
    peak = num(values.get("bomb_hwm_kb"))
    bombs = js(values, "bombs_json") or {}
    if before is not None and peak is not None:
        reset = values.get("bomb_hwm_reset") == "yes"
        growth = (peak - before) / 1024
        answers = ", ".join(f"{k}: {v}" for k, v in sorted((bombs.get("answers") or {}).items()))
        row(f"ingest: RSS growth while rejecting 200 zlib bombs ({fmt((bombs.get('bomb_bytes') or 0) / 1024)} KiB each, "
            f"{bombs.get('concurrency', '?')} connections)",
            f"peak +{fmt(growth, 1)} MiB (VmRSS {fmt(before / 1024, 1)} → {fmt(after / 1024, 1)} MiB, "
            f"peak {fmt(peak / 1024, 1)} MiB{'' if reset else ', peak not reset: lifetime'}); answers {answers}",
            "< 64 MiB", growth < 64)

    # Micro-benchmarks.
    micro = js(values, "micro_json")
    verify, verify_pair = openssl_mean(values, "verify", "micro")
    sign, sign_pair = openssl_mean(values, "sign", "micro")
    if micro:
        cached = micro.get("cached_auth_ns")
        row("verification: cached token (Bearer + cache hit + revocation view + scope), one thread",
            f"{fmt(cached, 0)} ns (bare cache lookup {fmt(micro.get('cache_lookup_ns'), 0)} ns)", "< 2 µs",
            None if cached is None else cached < 2000)
        per_s = micro.get("uncached_verify_per_s")
        if per_s and verify:
            ratio = per_s / verify
            row("verification: uncached token (TokenVerifier.verify, RS256), one core ÷ `openssl speed rsa2048` verify/s",
                f"{fmt(per_s)} /s ÷ {fmt(verify)} verify/s{verify_pair} = {ratio:.2f} (parse alone {fmt(micro.get('parse_ns'))} ns)",
                "≥ 0.8", ratio >= 0.8)
        sign_per_s = micro.get("sign_per_s")
        if sign_per_s and sign:
            row("signing: TokenSigner.sign (claims JSON, base64url, RS256), one thread ÷ `openssl speed rsa2048` sign/s",
                f"{fmt(sign_per_s)} /s ÷ {fmt(sign)} sign/s{sign_pair} = {sign_per_s / sign:.2f} "
                f"(the bare swift-crypto signature {fmt(micro.get('rsa_sign_per_s'))} /s)")
        row("SenML decode + resolve, 100-record pack, one thread",
            f"{fmt(micro.get('senml_pack100_ns') / 1000 if micro.get('senml_pack100_ns') else None, 1)} µs/pack "
            f"({fmt(micro.get('senml_record_ns'))} ns/record)")
        row("Inflater (zlib), one thread",
            f"{fmt(micro.get('inflate_pack100_ns') / 1000 if micro.get('inflate_pack100_ns') else None, 1)} µs per "
            f"100-record pack ({fmt(micro.get('inflate_mb_per_s'))} MB/s; 10 000-record pack "
            f"{fmt(micro.get('inflate_big_mb_per_s'))} MB/s)")
    else:
        row("verification micro-benchmarks", "not measured (step failed)", "", None)

    # Simulator. The target (issue 5): one process offers ≥ 20 000 req/s on ≤ 1 core. The run at
    # 25 000/s asks for more than that, so what it acknowledges is what it can offer; skipped
    # posts (the in-flight bound reached during a stall of the shared machine) are shown, not
    # counted against it. The run at 20 000/s shows the rate held, with its latency (info).
    seconds = float(values.get("sim_seconds", "10"))
    for key, rate_asked, target in (("sim20", "20 000", False), ("sim", "25 000", True)):
        sim = js(values, f"{key}_report")
        timing = js(values, f"{key}_json")
        name = (f"simulator: one process on CPU 0 (taskset), batch-1 deflated posts at --rate {rate_asked} "
                "to nginx (CPU 1)")
        if not (sim and timing):
            row(name, f"not measured (step failed; see .data/bench/{key}.txt)", "≥ 20 000 req/s" if target else "",
                None)
            continue
        rate = sim["requests_per_second"]
        cpu = (timing["user_s"] + timing["sys_s"]) / timing["wall_s"]
        lat = sim.get("latency_ms", {})
        skipped_share = sim["skipped"] / max(sim["scheduled"], 1) * 100
        figure = (f"{fmt(rate)} req/s acknowledged ({fmt(sim['scheduled'] / seconds)} scheduled/s, "
                  f"skipped {fmt(sim['skipped'])} = {skipped_share:.2f} %, p99 {fmt(lat.get('p99'), 1)} ms); CPU "
                  f"{fmt(timing['user_s'] + timing['sys_s'], 1)} s / {fmt(timing['wall_s'], 1)} s wall = {cpu:.2f} cores")
        if target:
            row(name, figure, "≥ 20 000 req/s acknowledged, ≤ 1 core", rate >= 20_000 and cpu <= 1.0)
        else:
            row(name, figure)
    return rows


def table(rows):
    lines = ["| benchmark | figure | target | met? |", "|---|---|---|---|"]
    for name, figure, target, ok in rows:
        lines.append(f"| {name} | {figure} | {target} | {ok} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--record", help="append a dated section to this Markdown file")
    args = parser.parse_args()
    values = load(args.results)
    rows = build(values)
    body = table(rows)
    dirty = " (with uncommitted changes in Sources/ or Package.swift)" if values.get("commit_dirty") == "yes" else ""
    mint = js(values, "mint_json") or {}
    header = (
        f"## {values.get('date', '?')} — commit {values.get('commit', '?')}{dirty}\n\n"
        f"- machine: {values.get('nproc', '?')} cores, {values.get('cpu_model', '?')}, "
        f"{values.get('mem_gib', '?')} GiB, Linux {values.get('kernel', '?')}; "
        f"load average at start {values.get('loadavg_start', '?')}, at end {values.get('loadavg_end', '?')}\n"
        f"- command: `make bench`{' (BENCH_QUICK=1: short runs, not comparable)' if values.get('quick') == '1' else ''}\n"
        f"- PostgreSQL 15 (shared cluster, database fleetgate_bench), the services "
        f"({values.get('ports', '?')}) and the load generator share the machine; loopback only; "
        f"{values.get('openssl_version', 'openssl')} `speed -seconds {values.get('openssl_seconds', '?')} rsa2048`: "
        f"{openssl_runs(values)}\n"
        f"- ingest driven with wrk and bench/telemetry.lua: {mint.get('minted', '?')} devices' access tokens, "
        f"pre-generated deflated SenML bodies, 64 keep-alive connections, "
        f"telemetry truncated before each run, committed rows counted with count(*) after it\n"
    )
    text = header + "\n" + body + "\n"
    print()
    print(text)
    failed = sum(1 for r in rows if r[3] == "**no**")
    print(f"targets met: {sum(1 for r in rows if r[3] == 'yes')}, not met: {failed}, "
          f"not measured: {sum(1 for r in rows if r[3] == 'n/a')}")
    if args.record:
        new = not os.path.exists(args.record)
        with open(args.record, "a") as out:
            if new:
                out.write(INTRO)
            out.write("\n" + text)
        print(f"appended to {args.record}")


INTRO = """# Benchmarks

Made by `make bench` (bench/run.sh; what each step does is described there and in bench/README.md).
Each section is one run, appended with its date, machine, commit and command; the figures are
what that run measured, on a 2-core machine that PostgreSQL, the services and the load generator
share. Targets are those of issues 3 (provisioning), 4 (ingest) and 5 (simulator); a target not
met is shown as **no**, never adjusted.
"""

if __name__ == "__main__":
    sys.exit(main())
