#!/usr/bin/env bash
# bench/soak.sh — Portcullis under mixed high load for a long time, on Postgres.
#
#   bash bench/soak.sh                   # 10 minutes (the figure for the note)
#   SOAK_SECONDS=60 bash bench/soak.sh   # a short look
#
# It passes only with zero errors in every stream and flat memory, and saves its report to
# bench/results/<UTC>-soak.md (raw wrk output, flows' stderr and server log extracts in the
# .log next to it). What it does (bench/README.md, "Soak", has the details):
# 1. builds the release server and bench/flows.rs as bench/run.sh does (or takes them from
#    BENCH_PREBUILT), and runs private copies;
# 2. creates a fresh Postgres database on 127.0.0.1:5432 (user postgres), dropped at the end,
#    starts the server on it (a generated KEK and admin token, housekeeping every
#    SOAK_HOUSEKEEPING_INTERVAL seconds, 30 by default, so purges run during the soak),
#    registers what the streams need through the admin API;
# 3. for SOAK_SECONDS (600) runs all of these at once, at a fixed load:
#      wrk, 16 connections: client credentials, ES256 JWT
#      wrk,  8 connections: client credentials, opaque (an API whose tokens live 60 s, so
#                           housekeeping purges them while the soak runs)
#      wrk,  8 connections: introspection of an opaque token (a fresh one every chunk)
#      bench/flows.rs, 4 workers: one each of sign-in + consent, sign-in only, SSO, refresh
#    wrk runs in chunks of 60 s (a throughput per minute); every answer is checked;
# 4. samples the server's RSS from /proc every 10 s, counts every table's rows at the start
#    and the end, collects housekeeping's passes from the server log;
# 5. prints the figures; exits non-zero on any error, a dead server, a server WARN/ERROR, or
#    RSS at the end more than max(10 %, 10 MiB) above RSS after the first minute (after the
#    first quarter for soaks under 4 minutes), each the median of three samples under load.
#    sqlx's slowness warnings (a statement over 1 s, a slow pool acquire) are reported, not
#    counted as failures.
#
# wrk, the flows client and the server share the machine's cores, so throughputs are lower
# than a dedicated load machine would show. Needs cargo (unless BENCH_PREBUILT), curl,
# python3, psql, wrk. Every wait is bounded; every process started is stopped on exit.

set -Eeuo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for arg in "$@"; do
    case $arg in
    -h | --help)
        sed -n '2,33p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "soak: unknown argument $arg (the knobs are SOAK_SECONDS and SOAK_HOUSEKEEPING_INTERVAL)" >&2
        exit 2
        ;;
    esac
done

# ---- fixed configuration ----
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_SECONDS=${SOAK_SECONDS%s}
HOUSEKEEPING_INTERVAL=${SOAK_HOUSEKEEPING_INTERVAL:-30}
CHUNK=60          # seconds per wrk run; the introspected token is fetched anew for each
SAMPLE=10         # seconds between RSS samples
OPAQUE_LIFETIME=60 # seconds an opaque token of the cc-opaque stream lives
FLOW_SCENARIOS="consent signin sso refresh" # one worker each
FLOW_GRACE=120     # seconds flows may run past the soak (their own set-up and warm-up)
# WRK_TIMEOUT, READY_WAIT, STOP_WAIT, the Postgres address and BENCH_HOST: bench/lib.sh.

die() { echo "soak: error: $*" >&2; exit 1; }
log() { echo "soak: $(date -u +%H:%M:%S) $*" >&2; }

[[ $SOAK_SECONDS =~ ^[1-9][0-9]*$ ]] || die "SOAK_SECONDS must be a whole number of seconds, got '$SOAK_SECONDS'"
((SOAK_SECONDS >= 30)) || die "SOAK_SECONDS must be at least 30"
[[ $HOUSEKEEPING_INTERVAL =~ ^[1-9][0-9]*$ ]] || die "SOAK_HOUSEKEEPING_INTERVAL must be a whole number of seconds"
for tool in curl python3 psql; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
# The RSS the verdict compares the end with: after the first minute (warm caches, full
# pools), or after the first quarter of a shorter soak.
if ((SOAK_SECONDS >= 240)); then
    BASELINE_AT=60
else
    BASELINE_AT=$((SOAK_SECONDS / 4 / SAMPLE * SAMPLE))
    ((BASELINE_AT >= SAMPLE)) || BASELINE_AT=$SAMPLE
fi

# ---- state for cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-soak.XXXXXX")
STREAM_PIDS=()   # wrk stream loops and flows processes

stop_streams() {
    local pid
    for pid in "${STREAM_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STREAM_PIDS[@]}"; do
        stop_pid "$pid"
    done
    STREAM_PIDS=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_streams
    stop_server
    drop_db
    rm -rf "$WORK"
    # An interrupted run leaves no empty raw log behind.
    if [[ -n ${OUT_LOG:-} && -f $OUT_LOG && ! -s $OUT_LOG ]]; then rm -f "$OUT_LOG"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build ----
build_programs flows
BIN=$WORK/portcullis
ensure_wrk
reason=$(pg_problem)
[[ -z $reason ]] || die "$reason"

TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS"
OUT_MD=$RESULTS/$TS-soak.md
OUT_LOG=$RESULTS/$TS-soak.log
: >"$OUT_LOG"
META=$WORK/meta.tsv
: >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
note() { meta note "$1"; log "$1"; }

GIT_REV=$(git_rev)
LOAD_BEFORE=$(loadavg)
ADMIN_TOKEN=$(py 'import secrets; print(secrets.token_urlsafe(36))')

# ---- the server on a fresh database ----
DB="portcullis_soak_$$"
create_db "$DB" "$WORK/psql.err" || die "CREATE DATABASE failed: $(head -c 200 "$WORK/psql.err")"
DB_PSQL=(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$DB" -X -q -A -t -v ON_ERROR_STOP=1)
SERVER_LOG=$WORK/server.log
SERVER_ENV=(PATH=/usr/bin:/bin HOME="$WORK" NO_COLOR=1
    PORTCULLIS_ADMIN_TOKEN="$ADMIN_TOKEN"
    PORTCULLIS_DATABASE_URL="$(pg_url "$DB")"
    PORTCULLIS_KEY_ENCRYPTION_KEY="$(random_b64_32)"
    PORTCULLIS_HOUSEKEEPING_ENABLED=true
    PORTCULLIS_HOUSEKEEPING_INTERVAL="$HOUSEKEEPING_INTERVAL")

reg() { # name path json -> $WORK/reg-name.json, must be 201
    local code
    code=$(admin POST "$2" "$3" "$WORK/reg-$1.json")
    [[ $code == 201 ]] || die "registering $1 answered $code: $(head -c 300 "$WORK/reg-$1.json")"
}

register_all() {
    # The API client that introspects the soak APIs' tokens (RFC 7662 §2.1).
    reg introspector /clients '{"client_name":"soak API","profile":"api"}'
    INTRO_ID=$(json_field "$WORK/reg-introspector.json" client_id)
    INTRO_BASIC=$(basic_of "$INTRO_ID" "$(json_field "$WORK/reg-introspector.json" client_secret)")
    reg res-jwt /resources "{\"identifier\":\"$BENCH_HOST/es256\",\"name\":\"soak ES256\",\"scopes\":[\"bench.read\"],\"signing_alg\":\"ES256\",\"client_id\":\"$INTRO_ID\"}"
    # Opaque tokens that expire within the soak: one insert each, and housekeeping's work.
    reg res-opaque /resources "{\"identifier\":\"$BENCH_HOST/opaque\",\"name\":\"soak opaque\",\"scopes\":[\"bench.read\"],\"access_token_format\":\"opaque\",\"access_token_lifetime\":$OPAQUE_LIFETIME,\"client_id\":\"$INTRO_ID\"}"
    # The introspected tokens: opaque with the default lifetime, longer than a chunk.
    reg res-introspect /resources "{\"identifier\":\"$BENCH_HOST/introspect\",\"name\":\"soak introspected\",\"scopes\":[\"bench.read\"],\"access_token_format\":\"opaque\",\"client_id\":\"$INTRO_ID\"}"
    reg service /clients "{\"client_name\":\"soak service\",\"profile\":\"service\",\"scope\":\"bench.read\",\"allowed_resources\":[\"$BENCH_HOST/es256\",\"$BENCH_HOST/opaque\",\"$BENCH_HOST/introspect\"]}"
    SERVICE_BASIC=$(basic_of "$(json_field "$WORK/reg-service.json" client_id)" "$(json_field "$WORK/reg-service.json" client_secret)")
}

# Sets REQUEST (bench/request.lua's arguments) for a wrk stream.
prepare() { # stream
    local form='Content-Type: application/x-www-form-urlencoded'
    case $1 in
    cc-jwt)
        REQUEST=(POST /token 200 access_token "grant_type=client_credentials&resource=$(urlencode "$BENCH_HOST/es256")"
            "Authorization: Basic $SERVICE_BASIC" "$form")
        ;;
    cc-opaque)
        REQUEST=(POST /token 200 access_token "grant_type=client_credentials&resource=$(urlencode "$BENCH_HOST/opaque")"
            "Authorization: Basic $SERVICE_BASIC" "$form")
        ;;
    introspect)
        local t
        t=$(service_token "$BENCH_HOST/introspect")
        [[ -n $t ]] || return 1
        REQUEST=(POST /introspect 200 '"active":true' "token=$t" "Authorization: Basic $INTRO_BASIC" "$form")
        ;;
    *) die "unknown stream $1" ;;
    esac
}

# One request by hand with REQUEST; a wrong answer ends the soak before it starts.
sanity() { # stream
    sanity_request "$1" || die "$SANITY_ERROR"
}

# A wrk stream, in the background: wrk runs of at most CHUNK seconds until END_S, each a line
# in $WORK/stream-NAME.tsv: start offset, seconds, requests, req/s, p50, p99, wrong answers,
# socket errors, statuses, wrk's exit code.
wrk_stream() { # name connections threads
    local name=$1 c=$2 t=$3 out=$WORK/stream-$1.tsv raw=$WORK/raw-$1.log child="" chunk=0
    trap - EXIT
    trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; exit 143' TERM INT
    : >"$out"
    while :; do
        local now left d rc=0 fields
        now=$(date +%s)
        left=$((END_S - now))
        ((left >= 1)) || break
        d=$((left < CHUNK ? left : CHUNK))
        chunk=$((chunk + 1))
        if ! prepare "$name"; then
            printf '%s\t0\t0\t0\t0\t0\t1\t0\tprepare-failed\t1\n' $((now - T0)) >>"$out"
            sleep 1
            continue
        fi
        timeout -k 5 $((d + 60)) wrk -t"$t" -c"$c" -d"${d}s" --timeout "$WRK_TIMEOUT" --latency \
            -s "$LUA" "$BASE_URL" -- "${REQUEST[@]}" >"$WORK/wrk-$name.txt" 2>&1 &
        child=$!
        wait "$child" || rc=$?
        child=""
        {
            echo "==== $name chunk $chunk at +$((now - T0))s: wrk -t$t -c$c -d${d}s --timeout $WRK_TIMEOUT (exit $rc) ===="
            cat "$WORK/wrk-$name.txt"
        } >>"$raw"
        fields=$(grep -m1 '^BENCH_RESULT ' "$WORK/wrk-$name.txt" | cut -d' ' -f2-) || fields=""
        local requests duration_s rps p50_ms p99_ms non200 socket_errors statuses
        read_bench_result "$fields"
        [[ -n $fields ]] || { statuses=no-result; non200=1; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $((now - T0)) "$duration_s" "$requests" "$rps" \
            "$p50_ms" "$p99_ms" "$non200" "$socket_errors" "$statuses" "$rc" >>"$out"
    done
}

# t, VmRSS, RssAnon, VmHWM (MiB), threads, load; one line of $WORK/rss.tsv.
sample() { # seconds since T0
    local pid=$CURRENT_PID
    [[ -n $pid ]] || return 0
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(proc_mib "$pid" VmRSS)" "$(proc_mib "$pid" RssAnon)" \
        "$(proc_mib "$pid" VmHWM)" "$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status" 2>/dev/null || echo '?')" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/rss.tsv"
}

# Every table's exact row count, one "table<TAB>rows" line each.
row_counts() { # out-file
    local q
    q=$(timeout 30 "${DB_PSQL[@]}" -c "SELECT string_agg(format('SELECT %L, count(*) FROM %I', tablename, tablename), ' UNION ALL ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'") &&
        timeout 120 "${DB_PSQL[@]}" -F $'\t' -c "$q" >"$1" ||
        note "could not count the rows of the tables"
}

log "starting the server on Postgres database $DB (housekeeping every ${HOUSEKEEPING_INTERVAL}s)"
start_portcullis "$WORK" "$SERVER_LOG" soak || {
    tail -n 40 "$SERVER_LOG" >&2 || true
    die "the server was not ready within ${READY_WAIT}s"
}
log "server pid $CURRENT_PID ready on $BASE_URL; registering through the admin API"
register_all
for s in cc-jwt cc-opaque introspect; do
    prepare "$s" || die "$s: could not prepare the request"
    sanity "$s"
done
sleep 1
row_counts "$WORK/rows-start.tsv"
LOG_MARK=$(wc -l <"$SERVER_LOG")
: >"$WORK/rss.tsv"

# ---- the soak ----
log "soak: ${SOAK_SECONDS}s of cc-jwt (16 conn), cc-opaque (8), introspect (8), flows ($FLOW_SCENARIOS, 1 worker each)"
T0=$(date +%s)
END_S=$((T0 + SOAK_SECONDS))
sample 0
wrk_stream cc-jwt 16 2 &
STREAM_PIDS+=($!)
wrk_stream cc-opaque 8 1 &
STREAM_PIDS+=($!)
wrk_stream introspect 8 1 &
STREAM_PIDS+=($!)
declare -A FLOW_PID=()
for s in $FLOW_SCENARIOS; do
    # The variables go in the environment, not the command line (ps shows arguments).
    BENCH_URL=$BASE_URL BENCH_ADMIN_TOKEN=$ADMIN_TOKEN BENCH_CONNECTIONS=1 \
        BENCH_DURATION=$SOAK_SECONDS BENCH_SCENARIOS=$s \
        timeout -k 5 $((SOAK_SECONDS + FLOW_GRACE)) "$WORK/flows" --bench >"$WORK/flows-$s.md" 2>"$WORK/flows-$s.err" &
    FLOW_PID[$s]=$!
    STREAM_PIDS+=($!)
done

next=$SAMPLE
SERVER_DIED=0
while :; do
    elapsed=$(($(date +%s) - T0))
    if ! kill -0 "$CURRENT_PID" 2>/dev/null; then
        SERVER_DIED=1
        note "the server died after ${elapsed}s"
        break
    fi
    if ((elapsed >= next)); then
        sample "$elapsed"
        next=$((next + SAMPLE))
        ((elapsed % 60 < SAMPLE)) && log "+${elapsed}s: RSS $(proc_mib "$CURRENT_PID" VmRSS) MiB"
    fi
    running=0
    for pid in "${STREAM_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && running=$((running + 1))
    done
    ((running == 0 && elapsed >= SOAK_SECONDS)) && break
    if ((elapsed > SOAK_SECONDS + FLOW_GRACE + 30)); then
        note "$running stream(s) still running ${elapsed}s after the start; stopped"
        break
    fi
    sleep 1
done
LOAD_END_S=$(($(date +%s) - T0))
[[ $SERVER_DIED == 1 ]] || sample "end:$LOAD_END_S"
meta load_end_s "$LOAD_END_S"
for s in $FLOW_SCENARIOS; do
    rc=0
    if kill -0 "${FLOW_PID[$s]}" 2>/dev/null; then
        rc=overran
    else
        wait "${FLOW_PID[$s]}" 2>/dev/null || rc=$?
    fi
    meta "flows_rc $s" "$rc"
done
stop_streams
if [[ $SERVER_DIED == 0 ]]; then
    meta hwm_mib "$(proc_mib "$CURRENT_PID" VmHWM)"
    row_counts "$WORK/rows-end.tsv"
fi

# ---- the report ----
# The log holds a line per token (hundreds of MB over 10 minutes): keep only what is read.
tail -n +$((LOG_MARK + 1)) "$SERVER_LOG" | grep -E 'housekeeping|\b(ERROR|WARN)\b|panicked' >"$WORK/server-soak.log" || true
grep -E 'housekeeping' "$WORK/server-soak.log" >"$WORK/housekeeping.log" || true
grep -E '\b(ERROR|WARN)\b|panicked' "$WORK/server-soak.log" >"$WORK/server-bad.log" || true
{
    for f in "$WORK"/raw-*.log; do cat "$f"; done
    for s in $FLOW_SCENARIOS; do
        echo "==== bench/flows.rs $s (stdout, stderr) ===="
        cat "$WORK/flows-$s.md" "$WORK/flows-$s.err" 2>/dev/null || true
    done
    echo "==== server: housekeeping lines ===="
    cat "$WORK/housekeeping.log"
    echo "==== server: WARN/ERROR/panic lines during the soak ($(wc -l <"$WORK/server-bad.log")), first 50 ===="
    head -n 50 "$WORK/server-bad.log"
    echo "==== server: the last 40 lines of the log ===="
    tail -n 40 "$SERVER_LOG"
} >>"$OUT_LOG"
stop_server
drop_db

meta commit "$GIT_REV"
meta timestamp "$TS"
meta soak_seconds "$SOAK_SECONDS"
meta baseline_at "$BASELINE_AT"
meta housekeeping_interval "$HOUSEKEEPING_INTERVAL"
meta opaque_lifetime "$OPAQUE_LIFETIME"
meta server_died "$SERVER_DIED"
meta machine "$(machine_summary)"
meta postgres "$(timeout 10 "${PSQL[@]}" -c 'SHOW server_version' 2>/dev/null || echo unknown)"
meta wrk "$(wrk_version)"
meta load "before: $LOAD_BEFORE; after: $(loadavg)"
meta raw_log "bench/results/$(basename "$OUT_LOG")"

cat >"$WORK/report.py" <<'PY'
"""Prints the soak's Markdown report from the files bench/soak.sh left in WORK; exits 1 when
the soak failed (an error, a dead server, a server WARN/ERROR, memory not flat)."""
import os, re, sys

work, flow_scenarios = sys.argv[1], sys.argv[2].split()
meta, notes = {}, []
for line in open(os.path.join(work, "meta.tsv")):
    k, _, v = line.rstrip("\n").partition("\t")
    if k == "note":
        notes.append(v)
    else:
        meta[k] = v

def read_tsv(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    return [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]

failures = []
soak = int(meta["soak_seconds"])
out = []
p = out.append
p(f"# Soak: {soak} s of mixed load on Postgres")
p("")
p(f"- commit {meta.get('commit')}, run {meta.get('timestamp')} (UTC)")
p(f"- machine: {meta.get('machine')}; Postgres {meta.get('postgres')}; {meta.get('wrk')}")
p(f"- load average {meta.get('load')}")
p(f"- load, all at once for {soak} s: wrk (bench/request.lua, every answer checked) 16 connections"
  f" client credentials ES256 JWT, 8 connections client credentials opaque (tokens live"
  f" {meta.get('opaque_lifetime')} s), 8 connections introspection of an opaque token; bench/flows.rs"
  f" with 1 worker each for {', '.join(flow_scenarios)}. wrk runs in chunks of at most 60 s.")
p(f"- server defaults apart from Postgres and housekeeping every {meta.get('housekeeping_interval')} s;"
  f" raw output in {meta.get('raw_log')}")
p("")

# ---- streams ----
labels = {
    "cc-jwt": "client credentials, ES256 JWT (wrk, 16 conn)",
    "cc-opaque": "client credentials, opaque (wrk, 8 conn)",
    "introspect": "introspection, opaque token (wrk, 8 conn)",
}
flow_labels = {"consent": ("flow: sign-in + consent", 4), "signin": ("flow: sign-in only", 3),
               "sso": ("flow: SSO (existing session)", 2), "refresh": ("refresh (rotation)", 1)}
p("## Streams")
p("")
p("| stream | done | per s | p50 ms | p99 ms | errors |")
p("|---|---:|---:|---:|---:|---|")
per_chunk = {}
total_requests = 0.0
for name, label in labels.items():
    rows = read_tsv(f"stream-{name}.tsv")
    per_chunk[name] = rows
    req = sum(int(r[2]) for r in rows)
    dur = sum(float(r[1]) for r in rows)
    bad = sum(int(r[6]) + int(r[7]) for r in rows)
    failed_runs = sum(1 for r in rows if r[9] != "0")
    statuses = ",".join(r[8] for r in rows if r[8] != "-")
    p50 = max((float(r[4]) for r in rows), default=0)
    p99 = max((float(r[5]) for r in rows), default=0)
    rps = req / dur if dur else 0
    total_requests += req
    err = "0"
    if not rows:
        bad, err = 1, "⚠ no wrk run"
    elif bad or failed_runs:
        err = f"⚠ {bad} ({statuses or '-'}; {failed_runs} wrk run(s) failed)"
    if bad or failed_runs or not rows:
        failures.append(f"{name}: {err}")
    p(f"| {label} | {req} | {rps:.1f} | ≤ {p50:.1f} | ≤ {p99:.1f} | {err} |")
for s in flow_scenarios:
    label, per = flow_labels.get(s, (s, 1))
    path = os.path.join(work, f"flows-{s}.md")
    rc = meta.get(f"flows_rc {s}", "?")
    row = None
    if os.path.exists(path):
        for line in open(path):
            cells = [c.strip() for c in line.split("|")]
            if len(cells) > 7 and cells[2].isdigit():
                row = cells
    if row is None:
        err_tail = ""
        ep = os.path.join(work, f"flows-{s}.err")
        if os.path.exists(ep):
            err_tail = " ".join(open(ep).read().split()[-30:])
        failures.append(f"flows {s}: no result (exit {rc}): {err_tail}")
        p(f"| {label} (flows, 1 worker) | - | - | - | - | ⚠ no result (exit {rc}) |")
        continue
    done = int(row[6])
    total_requests += done * per
    err = row[7]
    if err != "0" or rc != "0":
        failures.append(f"flows {s}: {err} (exit {rc})")
    p(f"| {label} (flows, 1 worker; {per} request(s) each) | {done} | {row[3]} | {row[4]} | {row[5]} | {err} |")
p("")
p(f"About {int(total_requests)} HTTP requests in all. wrk's p50/p99 are the worst of its 60-s runs.")
p("")

# ---- throughput per minute ----
p("### wrk throughput per run (req/s)")
p("")
p("| from s | " + " | ".join(labels) + " |")
p("|---:|" + "---:|" * len(labels))
starts = sorted({int(r[0]) for rows in per_chunk.values() for r in rows})
for st in starts:
    cells = []
    for name in labels:
        r = next((r for r in per_chunk[name] if abs(int(r[0]) - st) <= 2), None)
        cells.append(f"{float(r[3]):.0f}" if r else "-")
    p(f"| {st} | " + " | ".join(cells) + " |")
p("")

# ---- memory ----
samples = []
for r in read_tsv("rss.tsv"):
    t = r[0]
    end = t.startswith("end:")
    t = int(t[4:] if end else t)
    try:
        samples.append((t, float(r[1]), r[2], r[3], r[4], r[5], end))
    except ValueError:
        pass
p("## Memory (server RSS from /proc/PID/status)")
p("")
if meta.get("server_died") == "1" or not samples:
    failures.append("the server died during the soak" if meta.get("server_died") == "1" else "no RSS samples")
else:
    base_at = int(meta["baseline_at"])
    start = samples[0]
    loaded = [s for s in samples if not s[6] and s[0] > 0]
    after_load = samples[-1] if samples[-1][6] else None
    # Medians of three samples, so one sample catching a transient (an argon2id block of
    # 19 MiB in flight) neither hides nor fakes growth; both windows are under load.
    base_win = [s for s in loaded if s[0] >= base_at][:3] or loaded[-1:]
    end_win = [s for s in loaded if s[0] > base_win[-1][0]][-3:] or loaded[-1:]
    med = lambda w: sorted(x[1] for x in w)[len(w) // 2]
    base, end = med(base_win), med(end_win)
    span = lambda w: f"{w[0][0]}–{w[-1][0]} s" if len(w) > 1 else f"{w[0][0]} s"
    peak = max(samples, key=lambda s: s[1])
    growth = end - base
    allowance = max(0.10 * base, 10.0)
    after = [(s[0], s[1]) for s in loaded if s[0] >= base_win[0][0]]
    slope = 0.0
    if len(after) >= 3:
        n = len(after)
        mt = sum(t for t, _ in after) / n
        mr = sum(r for _, r in after) / n
        den = sum((t - mt) ** 2 for t, _ in after)
        slope = sum((t - mt) * (r - mr) for t, r in after) / den * 60 if den else 0.0
    flat = growth <= allowance
    p(f"| at start (idle) | after the first minute ({span(base_win)}) | at the end ({span(end_win)}) | after the load | max sample | VmHWM | growth | trend from {base_win[0][0]} s |")
    p("|---:|---:|---:|---:|---:|---:|---:|---:|")
    p(f"| {start[1]:.1f} MiB | {base:.1f} MiB | {end:.1f} MiB | {f'{after_load[1]:.1f} MiB' if after_load else '-'} | {peak[1]:.1f} MiB (at {peak[0]} s) | {meta.get('hwm_mib', '?')} MiB | {growth:+.1f} MiB | {slope:+.2f} MiB/min |")
    p("")
    p("Both windows are under load; each figure is the median of its samples.")
    p("")
    verdict = "**memory flat**" if flat else "**⚠ memory NOT flat**"
    p(f"{verdict}: RSS at the end is {growth:+.1f} MiB from RSS after the first minute"
      f" (allowed: at most +{allowance:.1f} MiB, the larger of 10 % and 10 MiB).")
    if not flat:
        failures.append(f"memory not flat: {growth:+.1f} MiB from {span(base_win)} to {span(end_win)} (allowed +{allowance:.1f})")
    p("")
    p("<details><summary>every sample</summary>")
    p("")
    p("| s | VmRSS MiB | RssAnon MiB | VmHWM MiB | threads | load 1 min |")
    p("|---:|---:|---:|---:|---:|---:|")
    for s in samples:
        p(f"| {s[0]}{' (end)' if s[6] else ''} | {s[1]:.1f} | {s[2]} | {s[3]} | {s[4]} | {s[5]} |")
    p("")
    p("</details>")
p("")

# ---- rows and housekeeping ----
def counts(name):
    return {r[0]: int(r[1]) for r in read_tsv(name) if len(r) == 2 and r[1].isdigit()}
c0, c1 = counts("rows-start.tsv"), counts("rows-end.tsv")
purged, passes = {}, []
ansi = re.compile(r"\x1b\[[0-9;]*m")
for line in open(os.path.join(work, "housekeeping.log")):
    line = ansi.sub("", line)
    m = re.search(r"housekeeping: purged expired rows: (.*)", line)
    if m:
        kv = dict(re.findall(r"(\w+)=(\d+)", m.group(1)))
        for k, v in kv.items():
            if k not in ("total", "elapsed_ms"):
                purged[k] = purged.get(k, 0) + int(v)
        passes.append((line.split()[0], kv.get("total", "?"), kv.get("elapsed_ms", "?")))
    elif re.search(r"\b(WARN|ERROR)\b", line):
        failures.append("housekeeping: " + line.strip()[:200])
p("## Postgres rows and housekeeping")
p("")
p(f"{len(passes)} housekeeping pass(es) during the soak"
  + (f"; rows deleted per pass: {', '.join(t for _, t, _ in passes)}; pass time ms: {', '.join(e for _, _, e in passes)}" if passes else "") + ".")
p("")
p("| table | rows at start | rows at the end | purged during the soak |")
p("|---|---:|---:|---:|")
for t in sorted(set(c0) | set(c1)):
    if c0.get(t, 0) or c1.get(t, 0) or purged.get(t, 0):
        p(f"| {t} | {c0.get(t, '?')} | {c1.get(t, '?')} | {purged.get(t, '-')} |")
p("")

bad_lines = [ansi.sub("", l.strip()) for l in open(os.path.join(work, "server-bad.log")) if l.strip()]
# sqlx's own warnings for a statement over 1 s or a connection acquired after over 2 s are
# latency, already in p99, not failures (a request that failed is counted in its stream).
is_slow = lambda l: re.search(r"WARN .*sqlx::[\w:]+: .*slow", l) is not None
slow = [l for l in bad_lines if is_slow(l)]
bad_lines = [l for l in bad_lines if not is_slow(l)]
p("## Server log")
p("")
p(f"{len(bad_lines)} WARN/ERROR/panic line(s) during the soak"
  + (" apart from sqlx's slowness warnings." if slow else "."))
p("")
if slow:
    seconds = sorted({l[:19] for l in slow})
    p(f"sqlx logged {len(slow)} slowness warning(s) (a statement over 1 s, a connection acquired after over 2 s), in"
      f" {len(seconds)} distinct second(s): {', '.join(s[11:] for s in seconds[:10])}"
      f"{' …' if len(seconds) > 10 else ''} (UTC). Not counted as errors; see p99 and the .log.")
    p("")
if bad_lines:
    failures.append(f"the server logged {len(bad_lines)} WARN/ERROR/panic line(s), e.g. {bad_lines[0][:240]}")
for n in notes:
    failures.append(n)

p("## Verdict")
p("")
if failures:
    p("**⚠ FAILED**")
    p("")
    for f in failures:
        p(f"- {f}")
else:
    p("**passed**: zero errors in every stream, no server WARN/ERROR, memory flat.")
print("\n".join(out))
sys.exit(1 if failures else 0)
PY

rc=0
python3 "$WORK/report.py" "$WORK" "$FLOW_SCENARIOS" >"$OUT_MD" || rc=$?
echo
cat "$OUT_MD"
echo
log "saved to ${OUT_MD#"$ROOT"/} (raw output in ${OUT_LOG#"$ROOT"/})"
exit "$rc"
