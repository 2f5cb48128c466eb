#!/usr/bin/env python3
"""Renders bench/run.sh's results as Markdown, checks the targets, and (in --quick mode) the
regression guard.

Input: the TSV bench/run.sh writes, one line per measurement
    kind  scenario  connections  rps  p50_ms  p99_ms  errors  detail  rss_mib
(kind: ceiling, argon2, sqlite or postgres) and `meta  key  value` lines.

Exit status: 1 when any measurement saw errors or could not run, or (quick mode) when a
guard ratio is below its floor; else 0.
"""

import sys
from collections import defaultdict

# The regression guard (bench/run.sh --quick): each scenario's req/s at the same connection
# count as a fraction of the ceiling program's, measured in the same run on the same machine,
# so machine speed and load cancel out. The floors sit near a third of the release ratios at 64
# connections in BENCHMARKS.md (SQLite: cc 0.66, introspection 1.42, JWKS 2.06, discovery 1.77,
# SSO 0.022; a --quick run on the same commit's code measured 0.57, 1.20, 1.65, 1.62, 0.015), so
# only a gross regression (a lost cache, a per-request key parse or database write, a blocking
# call) trips them, never the noise of a busy machine. Re-set them from a later run's ratios,
# never closer than half.
GUARD_FLOORS = {
    "cc-es256": 0.20,
    "introspect": 0.40,
    "jwks": 0.50,
    "discovery": 0.50,
    "flow-sso": 0.005,
}

# The performance targets, for the full run.
TARGET_CC_RATIO = 0.70
TARGET_CC_P99_MS = 10.0
TARGET_SSO = 1000.0
TARGET_SIGNIN_RATIO = 0.90
TARGET_INTROSPECT = 20000.0
TARGET_JWKS = 30000.0
TARGET_DISCOVERY = 30000.0
TARGET_IDLE_RSS = 40.0
TARGET_LOAD_RSS = 120.0
TARGET_STARTUP_MS = 1000.0

LABELS = {
    "cc-es256": "client credentials, JWT ES256",
    "cc-rs256": "client credentials, JWT RS256",
    "cc-eddsa": "client credentials, JWT EdDSA",
    "cc-opaque": "client credentials, opaque",
    "introspect": "introspection (JWT ES256)",
    "jwks": "JWKS",
    "discovery": "discovery",
    "device-poll": "device polling (pending)",
    "token-exchange": "token exchange (RFC 8693)",
    "flow-consent": "code+PKCE flow: sign-in + consent (new browser)",
    "flow-signin": "code+PKCE flow: sign-in only (new browser)",
    "flow-sso": "code+PKCE flow: existing session (SSO)",
    "refresh": "refresh (rotation)",
    "verify": "argon2id verification",
    "setup": "setup",
}


def num(text):
    try:
        return float(text)
    except ValueError:
        return None


def main(path):
    rows = []
    meta = {}
    notes = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "meta":
                if parts[1] == "note":
                    notes.append(parts[2])
                else:
                    meta[parts[1]] = parts[2] if len(parts) > 2 else ""
                continue
            if len(parts) < 9:
                continue
            kind, scenario, conns, rps, p50, p99, errors, detail, rss = parts[:9]
            rows.append(
                {
                    "kind": kind,
                    "scenario": scenario,
                    "conns": conns,
                    "rps": num(rps) or 0.0,
                    "p50": num(p50),
                    "p99": num(p99),
                    "errors": int(num(errors) or 0),
                    "detail": detail,
                    "rss": rss,
                }
            )
    quick = meta.get("mode") == "quick"
    failed = any(r["errors"] > 0 for r in rows)
    out = []
    w = out.append

    w(f"# Portcullis benchmark — {meta.get('mode', '?')} run {meta.get('timestamp', '')}")
    w("")
    w(f"- commit: {meta.get('commit', '?')}")
    w(f"- machine: {meta.get('machine', '?')}; {meta.get('kernel', '')}; {meta.get('wrk', '')}")
    w(f"- {meta.get('config', '')}")
    if meta.get("overrides", "").strip():
        w(f"- **non-standard run:**{meta['overrides']} (not comparable with standard runs)")
    w(
        "- the load generators (wrk, bench/flows.rs) run on the same machine and share its cores "
        "with the server: figures are lower than a dedicated load machine would show. "
        f"Load average {meta.get('load', '?')}"
    )
    w("")

    ceiling = {r["conns"]: r for r in rows if r["kind"] == "ceiling"}
    argon = {r["conns"]: r for r in rows if r["kind"] == "argon2"}
    stores = [k for k in ("sqlite", "postgres") if any(r["kind"] == k for r in rows)]

    def cell_rps(r):
        mark = "⚠ " if r["errors"] else ""
        return f"{mark}{r['rps']:.0f}" if r["rps"] >= 100 else f"{mark}{r['rps']:.1f}"

    def fmt(v, digits=2):
        return "-" if v is None else f"{v:.{digits}f}"

    w("## Throughput and latency")
    w("")
    w("Requests (or flows) per second, latency per request (per flow for flows), answers checked; "
      "RSS: the server's VmRSS right after the row. vs ceiling: req/s over the ceiling program's "
      "at the same connection count.")
    w("")
    w("| where | scenario | conns | req/s | p50 ms | p99 ms | errors | RSS MiB | vs ceiling |")
    w("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        if r["kind"] == "argon2":
            continue
        ratio = ""
        c = ceiling.get(r["conns"])
        if r["kind"] != "ceiling" and c and c["rps"] > 0 and not c["errors"]:
            ratio = f"{r['rps'] / c['rps']:.2f}"
        err = "0" if not r["errors"] else f"⚠ {r['errors']} ({r['detail']})"
        w(
            f"| {r['kind']} | {LABELS.get(r['scenario'], r['scenario'])} | {r['conns']} | "
            f"{cell_rps(r)} | {fmt(r['p50'])} | {fmt(r['p99'])} | {err} | {r['rss']} | {ratio} |"
        )
    w("")

    if argon:
        w("## The sign-in limit: argon2id")
        w("")
        w("Verifications per second through the server's own password check (OWASP parameters, "
          "one hash per core at a time), with as many concurrent callers as flow workers; each "
          "sign-in flow costs exactly one.")
        w("")
        w("| callers | verifications/s | p50 ms | p99 ms | full sign-in flows/s (store: ratio) |")
        w("|---:|---:|---:|---:|---|")
        for conns, a in argon.items():
            flows = []
            for s in stores:
                f = next((r for r in rows if r["kind"] == s and r["scenario"] == "flow-signin"
                          and r["conns"] == conns), None)
                if f and a["rps"] > 0:
                    flows.append(f"{s} {f['rps']:.1f} ({f['rps'] / a['rps']:.2f})")
            w(f"| {conns} | {cell_rps(a)} | {fmt(a['p50'], 1)} | {fmt(a['p99'], 1)} | "
              f"{'; '.join(flows) or '-'} |")
        w("")

    w("## Memory and start-up")
    w("")
    w("| where | start-up, empty database (ms) | start-up, restart (ms) | idle RSS MiB | peak RSS (VmHWM) MiB |")
    w("|---|---:|---:|---:|---:|")
    if "ceiling idle_rss_mib" in meta:
        w(f"| ceiling | - | - | {meta['ceiling idle_rss_mib']} | {meta.get('ceiling peak_rss_mib', '?')} |")
    for s in stores:
        w(f"| {s} | {meta.get(s + ' startup_first_ms', '?')} | {meta.get(s + ' startup_ms', '?')} | "
          f"{meta.get(s + ' idle_rss_mib', '?')} | {meta.get(s + ' peak_rss_mib', '?')} |")
    w("")
    w("Start-up: from exec to the first 200 from /readyz (polled every 5 ms); the first start "
      "runs the migrations and generates the keys. Idle RSS: 1 s after the restart, before any "
      "load. Peak: the high-water mark over the whole run of that store, 64-connection load "
      "included.")
    w("")

    def best(store, scenario):
        cands = [r for r in rows if r["kind"] == store and r["scenario"] == scenario and not r["errors"]]
        return max(cands, key=lambda r: r["rps"], default=None)

    def at(store, scenario, conns):
        return next((r for r in rows if r["kind"] == store and r["scenario"] == scenario
                     and r["conns"] == conns), None)

    guard_failures = []
    if quick:
        w("## Regression guard (ratios to the ceiling at the same connection count)")
        w("")
        w("| store | scenario | conns | ratio | floor | |")
        w("|---|---|---:|---:|---:|---|")
        if not ceiling or all(c["errors"] or c["rps"] <= 0 for c in ceiling.values()):
            guard_failures.append("the ceiling program did not run")
        for s in stores:
            for scenario, floor in GUARD_FLOORS.items():
                for conns, c in ceiling.items():
                    r = at(s, scenario, conns)
                    if r is None:
                        guard_failures.append(f"{s} {scenario} at {conns}: no figure")
                        w(f"| {s} | {scenario} | {conns} | - | {floor:.3f} | ✗ missing |")
                        continue
                    ratio = r["rps"] / c["rps"] if c["rps"] > 0 else 0.0
                    ok = ratio >= floor and not r["errors"]
                    if not ok:
                        guard_failures.append(f"{s} {scenario} at {conns}: {ratio:.3f} < {floor}"
                                              if not r["errors"] else f"{s} {scenario}: errors")
                    w(f"| {s} | {scenario} | {conns} | {ratio:.3f} | {floor:.3f} | {'ok' if ok else '✗'} |")
        if not stores:
            guard_failures.append("no store was measured")
        w("")
    else:
        w("## Targets")
        w("")
        w("| target | where | measured | |")
        w("|---|---|---|---|")

        def target(name, where, measured, ok):
            w(f"| {name} | {where} | {measured} | {'met' if ok else '**not met**'} |")

        for s in stores:
            r, c = at(s, "cc-es256", "64"), ceiling.get("64")
            if r and c and c["rps"] > 0:
                ratio = r["rps"] / c["rps"]
                target("client credentials ES256 ≥ 70% of the ceiling, p99 < 10 ms at 64", s,
                       f"{ratio:.0%} ({r['rps']:.0f} / {c['rps']:.0f}), p99 {fmt(r['p99'])} ms",
                       ratio >= TARGET_CC_RATIO and (r["p99"] or 1e9) < TARGET_CC_P99_MS and not r["errors"])
            b = best(s, "flow-sso")
            if b:
                target("SSO code+PKCE flows ≥ 1,000/s", s, f"{b['rps']:.0f} at {b['conns']}", b["rps"] >= TARGET_SSO)
            f, a = at(s, "flow-signin", "64"), argon.get("64")
            if f and a and a["rps"] > 0:
                ratio = f["rps"] / a["rps"]
                target("full sign-in flows ≥ 90% of argon2 verifications (64)", s,
                       f"{ratio:.0%} ({f['rps']:.1f} / {a['rps']:.1f})", ratio >= TARGET_SIGNIN_RATIO and not f["errors"])
            for scenario, goal in (("introspect", TARGET_INTROSPECT), ("jwks", TARGET_JWKS),
                                   ("discovery", TARGET_DISCOVERY)):
                b = best(s, scenario)
                if b:
                    target(f"{LABELS[scenario]} ≥ {goal:,.0f}/s", s, f"{b['rps']:.0f} at {b['conns']}",
                           b["rps"] >= goal)
            idle, peak = num(meta.get(s + " idle_rss_mib", "")), num(meta.get(s + " peak_rss_mib", ""))
            if idle is not None:
                target("idle RSS < 40 MB", s, f"{idle:.1f} MiB", idle < TARGET_IDLE_RSS)
            if peak is not None:
                target("RSS under 64-connection load < 120 MB", s, f"{peak:.1f} MiB (VmHWM)", peak < TARGET_LOAD_RSS)
            if s == "sqlite":
                ms = num(meta.get("sqlite startup_ms", ""))
                if ms is not None:
                    target("start-up to ready < 1 s (SQLite)", s, f"{ms:.0f} ms", ms < TARGET_STARTUP_MS)
        w("")
        w("Throughput targets take the best connection count without errors.")
        w("")

    if notes or failed or guard_failures:
        w("## Notes")
        w("")
        for n in notes:
            w(f"- {n}")
        for r in rows:
            if r["errors"]:
                w(f"- ⚠ {r['kind']} {r['scenario']} at {r['conns']}: {r['detail']}: not a throughput")
        for g in guard_failures:
            w(f"- REGRESSION GUARD: {g}")
        w("")
    w(f"Raw wrk output and server log tails: {meta.get('raw_log', '?')}")
    print("\n".join(out))
    if failed or guard_failures:
        print("bench: FAILED: " + ("; ".join(guard_failures) or "some rows saw errors (⚠)"),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
