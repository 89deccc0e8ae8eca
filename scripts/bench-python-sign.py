#!/usr/bin/env python3
"""Micro-benchmark of the official duo_client's request signing, for comparison with the
criterion figures of duo-proto (crates/duo-proto/benches/signing.rs; see BENCHMARKS.md).

Times `duo_client.client.sign(ikey, skey, method, host, uri, date, sig_version, params,
body=None, digestmod=hashlib.sha512, additional_headers=None)` -- the whole Authorization header
value: canonical string, HMAC, hex, base64 -- on the same inputs as the Rust benchmark.

Run: scripts/setup-interop.sh && .venv/bin/python scripts/bench-python-sign.py [--number N] [--repeat R]
Prints one line per case: name, best ns/op over R repeats of N calls, and the median.
"""

import argparse
import base64
import hashlib
import hmac
import statistics
import sys
import timeit

import duo_client
import duo_client.client as dc

IKEY = "DIWJ8X6AEYOR5OMC6TQ1"
SKEY = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"  # the duo.com docs example key (not a secret)
HOST = "api-xxxxxxxx.duosecurity.com"
PATH = "/admin/v1/users"
DATE = "Tue, 21 Aug 2012 17:29:18 -0000"
PARAMS = {"username": ["alice"], "limit": ["100"]}
POST_BODY = '{"async":"1","device":"auto","factor":"push","username":"jsmith"}'
EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()

# name -> (method, sig_version, params, body, digestmod)
CASES = {
    "v2 HMAC-SHA512 GET": ("GET", 2, PARAMS, None, hashlib.sha512),
    "v2 HMAC-SHA1 GET": ("GET", 2, PARAMS, None, hashlib.sha1),
    "v5 GET (empty body and header hashes)": ("GET", 5, PARAMS, "", hashlib.sha512),
    "v5 POST JSON body": ("POST", 5, {}, POST_BODY, hashlib.sha512),
}


def call(case):
    method, sig_version, params, body, digestmod = case
    return dc.sign(IKEY, SKEY, method, HOST, PATH, DATE, sig_version, params,
                   body=body, digestmod=digestmod, additional_headers=None)


def independent(case):
    """The same header computed from the spec with the stdlib only (a sanity check, so the
    benchmark cannot silently time a call that does something else)."""
    method, sig_version, params, body, digestmod = case
    canon_params = "&".join(f"{k}={v}" for k in sorted(params) for v in sorted(params[k]))
    lines = [DATE, method, HOST, PATH, canon_params]
    if sig_version == 5:
        lines += [hashlib.sha512(body.encode()).hexdigest(), EMPTY_SHA512]
    sig = hmac.new(SKEY.encode(), "\n".join(lines).encode(), digestmod).hexdigest()
    return "Basic " + base64.b64encode(f"{IKEY}:{sig}".encode()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=20000, help="calls per repeat (default 20000)")
    ap.add_argument("--repeat", type=int, default=5, help="repeats (default 5)")
    args = ap.parse_args()

    print(f"duo_client {duo_client.__version__}, "
          f"Python {sys.version.split()[0]}, best of {args.repeat} x {args.number} calls")
    for name, case in CASES.items():
        got = call(case)
        if got != independent(case):
            sys.exit(f"{name}: duo_client produced {got!r}, expected {independent(case)!r}")
        times = timeit.repeat(lambda: call(case), number=args.number, repeat=args.repeat)
        per_op = [t / args.number * 1e9 for t in times]
        print(f"{name:<40} {min(per_op):9.0f} ns/op (median {statistics.median(per_op):.0f})")


if __name__ == "__main__":
    main()
