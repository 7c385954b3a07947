#!/usr/bin/env python3
"""Where provisioning's CPU goes while it issues tokens: reads `perf script` output of a
profile recorded with DWARF call chains (frame pointers stop at libcrypto, which has none) and
prints the share of samples in the RSA signature, in the rest of the signing, on NIO's event
loops (sockets, HTTP and PostgreSQL protocol) and elsewhere, then the innermost Fleetgate frames
of the samples outside the signature. Used by `BENCH_PERF=1 make bench` (bench/run.sh)."""
import collections
import re
import sys

SETUP = re.compile(r"EVP_(DigestSignInit|PKEY_CTX_new|PKEY_CTX_free|PKEY_sign_init|MD_CTX_new|MD_CTX_free)")
OURS = re.compile(r"\$s\d+(Provisioning|FleetAuth|FleetCore|FleetHTTP|FleetStore)")


def frames(sample):
    """The symbols of one sample, innermost first."""
    lines = [line.strip() for line in sample.strip().split("\n")[1:] if line.strip()]
    return [re.sub(r"^\S+\s+", "", line).split("+0x")[0] for line in lines]


def main(path, summary=False):
    shares = collections.Counter()
    inner = collections.Counter()
    total = 0
    with open(path, errors="replace") as handle:
        for sample in handle.read().split("\n\n"):
            stack = frames(sample)
            if not stack:
                continue
            total += 1
            if any("SystemRSASigner" in frame or "TokenSigner" in frame for frame in stack):
                if any(frame.startswith("RSA_sign") for frame in stack):
                    shares["signature: RSA_sign (the exponentiation)"] += 1
                elif any(SETUP.match(frame) for frame in stack):
                    shares["signature: setting up and freeing libcrypto contexts"] += 1
                else:
                    shares["signature: the rest (claims JSON, base64url, SHA-256, padding)"] += 1
                continue
            if any("SelectableEventLoop" in frame for frame in stack):
                shares["NIO event loops (sockets, HTTP parsing, PostgreSQL protocol)"] += 1
            else:
                shares["tasks and everything else (handlers, router, pool, runtime)"] += 1
            ours = [frame for frame in stack if OURS.search(frame)]
            if ours:
                inner[ours[0]] += 1
    if total == 0:
        print("no samples")
        return
    print(f"# {total} samples")
    for name, count in shares.most_common():
        print(f"{count / total * 100:6.1f} %  {name}")
    if summary:
        return
    print("# innermost Fleetgate frame of samples outside the signature (top 12)")
    for name, count in inner.most_common(12):
        print(f"{count / total * 100:6.1f} %  {name}")


if __name__ == "__main__":
    main(sys.argv[-1], summary="--summary" in sys.argv[1:-1])
