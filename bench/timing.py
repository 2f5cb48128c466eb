#!/usr/bin/env python3
"""bench/timing.py: does the answer's timing tell an unknown user or client from a known one?

Measures, against a running server, interleaved requests of each pair:
  * the password grant: a known user with a wrong password vs an unknown user
    (both cost one argon2id verification: the unknown one against a dummy hash);
  * client authentication at /token: a known client with a wrong secret vs an unknown client
    (both cost one SHA-256 and a constant-time compare).
and prints the median and the 10th/90th percentiles of each, in milliseconds.

Start the server with the password grant on and the sign-in throttle out of the way (it would
otherwise refuse before verifying, which is the point of it), for example:

  PORTCULLIS_DATABASE_URL=sqlite:///tmp/timing.db PORTCULLIS_ADMIN_TOKEN=$(printf 'a%.0s' {1..40}) \\
  PORTCULLIS_LEGACY_PASSWORD=true PORTCULLIS_THROTTLE_ACCOUNT_FREE_ATTEMPTS=1000 \\
  PORTCULLIS_THROTTLE_IP_FREE_ATTEMPTS=1000000 PORTCULLIS_BIND=127.0.0.1:8099 \\
  PORTCULLIS_ISSUER=http://127.0.0.1:8099 cargo run -- serve

  BASE=http://127.0.0.1:8099 ADMIN_TOKEN=aaaa… bench/timing.py [rounds]

Timing on a shared machine is noisy: compare the two columns of one run, not runs.
"""

import base64
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ.get("BASE", "http://127.0.0.1:8099")
ADMIN = os.environ["ADMIN_TOKEN"]
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 40


def call(method, path, body=None, headers=None, form=None):
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return status, text, (time.perf_counter() - started) * 1000


def admin(method, path, body):
    status, text, _ = call(method, path, body, {"Authorization": f"Bearer {ADMIN}"})
    assert status in (200, 201), (status, text)
    return json.loads(text)


def basic(client_id, secret):
    raw = f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def summary(name, samples):
    q = statistics.quantiles(samples, n=10)
    return f"| {name} | {len(samples)} | {statistics.median(samples):.2f} | {q[0]:.2f} | {q[-1]:.2f} |"


def main():
    suffix = str(int(time.time()))
    admin("POST", "/admin/users", {"username": f"timing{suffix}", "password": "correct horse battery"})
    client = admin("POST", "/admin/clients", {
        "client_name": "timing", "profile": "web", "first_party": True,
        "redirect_uris": ["https://timing.example/cb"],
        "grant_types": ["password", "client_credentials"], "scope": "openid",
    })
    cid, secret = client["client_id"], client["client_secret"]
    pairs = {
        "password grant, wrong password": [],
        "password grant, unknown user": [],
        "client auth, wrong secret": [],
        "client auth, unknown client": [],
    }
    answers = {}
    for i in range(ROUNDS):
        for name, user in [("password grant, wrong password", f"timing{suffix}"),
                           ("password grant, unknown user", f"nobody{suffix}x{i}")]:
            status, text, ms = call("POST", "/token", headers=basic(cid, secret), form={
                "grant_type": "password", "username": user, "password": "wrong password",
                "scope": "openid"})
            pairs[name].append(ms)
            answers.setdefault(name, (status, text))
        for _ in range(10):
            for name, who in [("client auth, wrong secret", cid),
                              ("client auth, unknown client", "no-such-client")]:
                status, text, ms = call("POST", "/token", headers=basic(who, "wrong secret"),
                                        form={"grant_type": "client_credentials"})
                pairs[name].append(ms)
                answers.setdefault(name, (status, text))
    print("| request | n | median ms | p10 ms | p90 ms |")
    print("|---|---|---|---|---|")
    for name, samples in pairs.items():
        print(summary(name, samples))
    for a, b in [("password grant, wrong password", "password grant, unknown user"),
                 ("client auth, wrong secret", "client auth, unknown client")]:
        same = answers[a] == answers[b]
        print(f"\n{a} vs {b}: identical answers: {same} {answers[a]}")


if __name__ == "__main__":
    main()
