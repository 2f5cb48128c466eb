#!/usr/bin/env bash
# bench/run.sh — client_credentials token throughput and latency of Portcullis.
#
#   bench/run.sh                                  # the standard run
#   BENCH_CONNECTIONS=64 BENCH_DURATION=5 bench/run.sh   # a quicker look
#
# For each store (SQLite in a fresh temp dir; Postgres in a fresh database on 127.0.0.1:5432,
# user postgres, dropped at the end — skipped with a message when unreachable) and each
# access-token algorithm (ES256, RS256, set as the server default through
# PORTCULLIS_TOKENS_ACCESS_TOKEN_ALG), it starts the release binary on a free loopback port,
# registers a resource and a service client through the admin API, and drives POST /token
# (grant_type=client_credentials, client_secret_basic) with wrk and bench/client_credentials.lua.
# It prints a Markdown table and saves it to bench/results/<timestamp>.md (raw wrk output and
# server log tails go to bench/results/<timestamp>.log; bench/results/ is git-ignored).
#
# READ THE FIGURES WITH THIS IN MIND:
# * wrk runs on the same machine and shares its 2 cores with the server, so the figures are
#   lower than a dedicated load machine would show (wrk takes a good part of one core), and
#   anything else running (a compile, tests) makes them noisy: the load average before and
#   after is recorded in the results header.
# * The configuration is fixed so that runs are comparable: 2 wrk threads (1 at 1 connection,
#   as wrk needs a connection per thread), a 2 s unrecorded warm-up at 16 connections per
#   server, 10 s per measurement, 5 s wrk request timeout, server defaults apart from the
#   store and the algorithm, no PORTCULLIS_* variable or portcullis.toml from the caller.
#   Only BENCH_CONNECTIONS (default "1 16 64") and BENCH_DURATION (seconds, default 10) may be
#   overridden; when they are, the results header says so. Compare only like with like.
# * Any non-200 response or socket error is counted (by a wrk response() callback and wrk's
#   own error counters) and flagged with ⚠ in the table: such a figure is not a throughput.
#
# After the wrk runs on the first algorithm's server of each store, bench/flows.rs (built with
# `cargo bench --bench flows --no-run`, run from a private copy) measures full authorization
# code + PKCE flows (sign-in form, consent or a first-party client that skips it, code exchange)
# and refresh-token rotations per second over plain HTTP, at the same BENCH_CONNECTIONS (as
# concurrent workers) and BENCH_DURATION; its table goes under the wrk table.
#
# Needs: cargo, curl, python3, wrk (installed from Debian with apt-get when missing), and psql
# for the Postgres rows. Every wait is bounded; every server started is stopped on exit.

set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
LUA=$BENCH/client_credentials.lua
RESULTS=$BENCH/results

# ---- fixed configuration (see the header before changing anything here) ----
DEFAULT_CONNECTIONS="1 16 64"
DEFAULT_DURATION=10
CONNECTIONS=${BENCH_CONNECTIONS:-$DEFAULT_CONNECTIONS}
DURATION=${BENCH_DURATION:-$DEFAULT_DURATION}
DURATION=${DURATION%s}
WRK_THREADS=2
WARMUP_SECONDS=2
WARMUP_CONNECTIONS=16
WRK_TIMEOUT=5s
STORES="sqlite postgres"
ALGS="ES256 RS256"
PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
READY_WAIT=60        # seconds for a server to answer /readyz (RSA key generation included)
STOP_WAIT=10         # seconds for a graceful stop before SIGKILL
FLOW_ALG=ES256       # the server whose store also gets the flows bench (one per store)
RESOURCE=https://bench.portcullis.test/api
SCOPE=bench.read

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION must be a whole number of seconds, got '$DURATION'"
for c in $CONNECTIONS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be positive integers, got '$c'"
done
[[ -n ${CONNECTIONS// /} ]] || die "BENCH_CONNECTIONS is empty"
for tool in cargo curl python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

# ---- state for cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")
CURRENT_PID=""       # the one server running, if any
CURRENT_DB=""        # the one Postgres database existing, if any
PSQL=(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -X -q -A -t -v ON_ERROR_STOP=1)
export PGCONNECT_TIMEOUT=5

stop_server() {
    local pid=$CURRENT_PID
    [[ -n $pid ]] || return 0
    CURRENT_PID=""
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for ((i = 0; i < STOP_WAIT * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "server $pid did not stop within ${STOP_WAIT}s of SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

drop_db() {
    local db=$CURRENT_DB
    [[ -n $db ]] || return 0
    CURRENT_DB=""
    timeout 30 "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
        timeout 30 "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 ||
        log "could not drop Postgres database $db; drop it by hand"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    drop_db
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools ----
ensure_wrk() {
    command -v wrk >/dev/null && return 0
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || die "wrk is missing and installing it needs root (apt-get install wrk)"
        sudo=(sudo -n)
    fi
    log "installing wrk from Debian"
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=120)
    if ! "${apt[@]}" install -y -q wrk >&2; then
        log "apt-get install failed; refreshing the package lists and retrying"
        "${apt[@]}" update -q >&2 || die "apt-get update failed"
        "${apt[@]}" install -y -q wrk >&2 || die "could not install wrk"
    fi
    command -v wrk >/dev/null || die "wrk still missing after apt-get install"
}

py() { python3 -c "$@"; }
random_b64_32() { py 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }
free_port() { py 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
json_field() { py 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- build ----
log "building the release binary (cargo build --release)"
(cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    py 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
[[ -x $TARGET_DIR/release/portcullis ]] || die "no binary at $TARGET_DIR/release/portcullis"
# A private copy: others may rebuild target/ while the benchmark runs.
BIN=$WORK/portcullis
cp "$TARGET_DIR/release/portcullis" "$BIN"

log "building the flows bench (cargo bench --bench flows --no-run)"
FLOWS_BUILT=$(cd "$ROOT" && cargo bench --bench flows --no-run --message-format=json |
    py 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "flows" and m.get("executable"):
        print(m["executable"])') || die "cargo bench --bench flows --no-run failed"
[[ -n $FLOWS_BUILT && -x $FLOWS_BUILT ]] || die "no flows bench binary was built"
FLOWS_BIN=$WORK/flows
cp "$FLOWS_BUILT" "$FLOWS_BIN"

ensure_wrk

TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS"
OUT_MD=$RESULTS/$TS.md
OUT_LOG=$RESULTS/$TS.log
: >"$OUT_LOG"

GIT_REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(cd "$ROOT" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock migrations 2>/dev/null) ]]; then
    GIT_REV="$GIT_REV (with uncommitted changes)"
fi
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
WRK_VERSION=$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2 || true)
LOAD_BEFORE=$(loadavg)
ADMIN_TOKEN=$(py 'import secrets; print(secrets.token_urlsafe(36))')

ROWS=()
NOTES=()
FLOW_SECTIONS=()
FAILED=0

add_row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 |"); }
fail_row() { # store alg connections reason
    FAILED=1
    add_row "$1" "$2" "$3" "FAILED" "-" "-" "⚠ $4" "-"
    log "FAILED: $1 $2 c=$3: $4"
}

server_log_tail() { # label file
    {
        echo "---- server log ($1), last 40 lines ----"
        tail -n 40 "$2" 2>/dev/null || true
    } >>"$OUT_LOG"
}

# Runs wrk once; prints the BENCH_RESULT line's fields on success.
run_wrk() { # connections duration label
    local c=$1 d=$2 label=$3 t out
    t=$((c < WRK_THREADS ? c : WRK_THREADS))
    out=$WORK/wrk-$label.txt
    timeout -k 5 $((d + 60)) wrk -t"$t" -c"$c" -d"${d}s" --timeout "$WRK_TIMEOUT" --latency \
        -s "$LUA" "$BASE_URL" -- "$BASIC" >"$out" 2>&1
    local rc=$?
    {
        echo "==== $label: wrk -t$t -c$c -d${d}s --timeout $WRK_TIMEOUT --latency (exit $rc) ===="
        cat "$out"
    } >>"$OUT_LOG"
    [[ $rc == 0 ]] || return 1
    grep -m1 '^BENCH_RESULT ' "$out" | cut -d' ' -f2-
}

# bench/flows.rs against the server under test; its table becomes a section of the results.
run_flows() { # store alg
    local store=$1 alg=$2 out=$WORK/flows-$1.md rc=0 rows
    rows=$((3 * $(wc -w <<<"$CONNECTIONS")))
    log "$store/$alg: authorization code + PKCE flows and refreshes (bench/flows.rs), ${DURATION}s per row"
    echo "==== $store/$alg: bench/flows.rs (stderr) ====" >>"$OUT_LOG"
    # The variables go in the environment, not the command line (ps shows arguments).
    BENCH_URL=$BASE_URL BENCH_ADMIN_TOKEN=$ADMIN_TOKEN BENCH_CONNECTIONS=$CONNECTIONS \
        BENCH_DURATION=$DURATION timeout -k 5 $((rows * (DURATION + 20) + 60)) \
        "$FLOWS_BIN" --bench >"$out" 2>>"$OUT_LOG" || rc=$?
    if [[ $rc != 0 ]]; then
        FAILED=1
        NOTES+=("$store flows bench exited with $rc: rows marked ⚠ saw errors; no table means it could not run (see the .log)")
    fi
    FLOW_SECTIONS+=("" "**$store** (server default access-token alg $alg; ID tokens RS256)" "")
    [[ -s $out ]] && FLOW_SECTIONS+=("$(cat "$out")")
    return 0
}

# One server: start, register, measure every connection count, stop. Errors are reported as
# rows; returns non-zero only when the server could not be set up at all.
run_combo() { # store alg
    local store=$1 alg=$2 dir db_url env port log_file i
    dir=$WORK/$store-$alg
    mkdir -p "$dir"
    log_file=$dir/server.log
    env=(PATH=/usr/bin:/bin HOME="$dir" NO_COLOR=1 PORTCULLIS_TOKENS_ACCESS_TOKEN_ALG="$alg"
        PORTCULLIS_ADMIN_TOKEN="$ADMIN_TOKEN")
    if [[ $store == sqlite ]]; then
        db_url="sqlite://$dir/portcullis.db"
    else
        local db="portcullis_bench_$$_${alg,,}"
        timeout 30 "${PSQL[@]}" -c "CREATE DATABASE \"$db\"" >/dev/null 2>"$dir/psql.err" || {
            fail_row "$store" "$alg" all "CREATE DATABASE failed: $(head -c 200 "$dir/psql.err")"
            return 1
        }
        CURRENT_DB=$db
        local auth=$PG_USER
        if [[ -n ${PGPASSWORD:-} ]]; then
            auth="$PG_USER:$(py 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGPASSWORD")"
        fi
        db_url="postgres://$auth@$PG_HOST:$PG_PORT/$db"
        env+=(PORTCULLIS_KEY_ENCRYPTION_KEY="$(random_b64_32)")
    fi
    env+=(PORTCULLIS_DATABASE_URL="$db_url")

    # Start on a free port; retry if another process took the port in between.
    local attempt
    for attempt in 1 2 3; do
        port=$(free_port)
        BASE_URL=http://127.0.0.1:$port
        (cd "$dir" && exec env -i "${env[@]}" PORTCULLIS_BIND="127.0.0.1:$port" "$BIN" serve) \
            >"$log_file" 2>&1 &
        CURRENT_PID=$!
        local ready=0
        for ((i = 0; i < READY_WAIT * 5; i++)); do
            kill -0 "$CURRENT_PID" 2>/dev/null || break
            if curl -fsS --max-time 2 -o /dev/null "$BASE_URL/readyz" 2>/dev/null; then
                ready=1
                break
            fi
            sleep 0.2
        done
        [[ $ready == 1 ]] && break
        server_log_tail "$store $alg start attempt $attempt" "$log_file"
        if grep -qi 'address already in use' "$log_file" && [[ $attempt -lt 3 ]]; then
            stop_server
            continue
        fi
        stop_server
        fail_row "$store" "$alg" all "server not ready within ${READY_WAIT}s: $(grep -m1 -iE 'error|panick' "$log_file" | head -c 200)"
        return 1
    done
    log "$store/$alg: server pid $CURRENT_PID ready on $BASE_URL"

    # Register the API and a service client through the admin API.
    local code
    code=$(curl -sS --max-time 10 -o "$dir/resource.json" -w '%{http_code}' \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        --data "{\"identifier\":\"$RESOURCE\",\"name\":\"Benchmark API\",\"scopes\":[\"$SCOPE\"]}" \
        "$BASE_URL/admin/resources") || code=000
    if [[ $code != 201 ]]; then
        fail_row "$store" "$alg" all "POST /admin/resources answered $code: $(head -c 200 "$dir/resource.json" 2>/dev/null)"
        server_log_tail "$store $alg" "$log_file"
        return 1
    fi
    code=$(curl -sS --max-time 10 -o "$dir/client.json" -w '%{http_code}' \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        --data "{\"client_name\":\"bench service\",\"profile\":\"service\",\"scope\":\"$SCOPE\",\"allowed_resources\":[\"$RESOURCE\"]}" \
        "$BASE_URL/admin/clients") || code=000
    if [[ $code != 201 ]]; then
        fail_row "$store" "$alg" all "POST /admin/clients answered $code: $(head -c 200 "$dir/client.json" 2>/dev/null)"
        server_log_tail "$store $alg" "$log_file"
        return 1
    fi
    local client_id client_secret
    client_id=$(json_field "$dir/client.json" client_id)
    client_secret=$(json_field "$dir/client.json" client_secret)
    if [[ -z $client_id || -z $client_secret ]]; then
        fail_row "$store" "$alg" all "client registration returned no client_id/client_secret"
        return 1
    fi
    # RFC 6749 §2.3.1: form-urlencode id and secret, then base64 "id:secret".
    BASIC=$(py 'import base64, sys, urllib.parse as u; q = lambda s: u.quote_plus(s, safe="");
print(base64.b64encode((q(sys.argv[1]) + ":" + q(sys.argv[2])).encode()).decode())' "$client_id" "$client_secret")

    # One request by hand: it must succeed and be signed with the algorithm under test.
    code=$(curl -sS --max-time 10 -o "$dir/token.json" -w '%{http_code}' \
        -H "Authorization: Basic $BASIC" -H 'Content-Type: application/x-www-form-urlencoded' \
        --data 'grant_type=client_credentials' "$BASE_URL/token") || code=000
    if [[ $code != 200 ]]; then
        fail_row "$store" "$alg" all "sanity POST /token answered $code: $(head -c 200 "$dir/token.json" 2>/dev/null)"
        server_log_tail "$store $alg" "$log_file"
        return 1
    fi
    local got_alg
    got_alg=$(py 'import base64, json, sys
t = json.load(open(sys.argv[1]))["access_token"]; h = t.split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$dir/token.json" 2>/dev/null) || got_alg="?"
    if [[ $got_alg != "$alg" ]]; then
        fail_row "$store" "$alg" all "access token signed with '$got_alg', expected $alg"
        return 1
    fi

    # Lines logged from here on are about the load, not the start-up (which warns about the
    # generated SQLite key-encryption key, as it should).
    local log_mark
    log_mark=$(wc -l <"$log_file")

    # Warm-up (not recorded), then the measurements.
    run_wrk "$WARMUP_CONNECTIONS" "$WARMUP_SECONDS" "$store-$alg-warmup" >/dev/null || true
    local c fields
    for c in $CONNECTIONS; do
        if ! kill -0 "$CURRENT_PID" 2>/dev/null; then
            fail_row "$store" "$alg" "$c" "server process died (see the .log)"
            server_log_tail "$store $alg after crash" "$log_file"
            return 1
        fi
        log "$store/$alg: wrk at $c connection(s) for ${DURATION}s"
        if ! fields=$(run_wrk "$c" "$DURATION" "$store-$alg-c$c") || [[ -z $fields ]]; then
            fail_row "$store" "$alg" "$c" "wrk failed (see the .log)"
            continue
        fi
        local rss
        rss=$(rss_mib "$CURRENT_PID")
        if ! kill -0 "$CURRENT_PID" 2>/dev/null; then
            fail_row "$store" "$alg" "$c" "server process died during the run"
            server_log_tail "$store $alg after crash" "$log_file"
            return 1
        fi
        local requests="" rps="" p50_ms="" p99_ms="" non200=0 socket_errors=0 statuses="-" kv
        for kv in $fields; do
            case $kv in
            requests=*) requests=${kv#*=} ;;
            rps=*) rps=${kv#*=} ;;
            p50_ms=*) p50_ms=${kv#*=} ;;
            p99_ms=*) p99_ms=${kv#*=} ;;
            non200=*) non200=${kv#*=} ;;
            socket_errors=*) socket_errors=${kv#*=} ;;
            statuses=*) statuses=${kv#*=} ;;
            esac
        done
        local errors=$((non200 + socket_errors)) err_cell=0 rps_cell
        rps_cell=$(printf '%.0f' "$rps")
        p50_ms=$(printf '%.2f' "$p50_ms")
        p99_ms=$(printf '%.2f' "$p99_ms")
        if ((errors > 0)); then
            FAILED=1
            err_cell="⚠ $errors (non-200 $statuses; socket $socket_errors)"
            rps_cell="⚠ $rps_cell"
            NOTES+=("$store/$alg at $c connections: $errors of $requests requests failed (statuses $statuses, socket errors $socket_errors)")
        fi
        add_row "$store" "$alg" "$c" "$rps_cell" "$p50_ms" "$p99_ms" "$err_cell" "$rss"
    done

    if [[ $alg == "$FLOW_ALG" ]] && kill -0 "$CURRENT_PID" 2>/dev/null; then
        run_flows "$store" "$alg"
    fi

    # Anything the server logged at WARN/ERROR during the runs, or a panic.
    local bad pattern='\b(ERROR|WARN)\b|panicked'
    tail -n +$((log_mark + 1)) "$log_file" >"$dir/server-load.log"
    bad=$(grep -cE "$pattern" "$dir/server-load.log" || true)
    if ((bad > 0)); then
        NOTES+=("$store/$alg: under load the server logged $bad warning/error line(s), e.g. $(grep -m1 -E "$pattern" "$dir/server-load.log" | cut -c1-240)")
        server_log_tail "$store $alg" "$log_file"
    fi
    stop_server
    drop_db
}

PG_OK=1
PG_SKIP_REASON=""
if ! command -v psql >/dev/null; then
    PG_OK=0
    PG_SKIP_REASON="psql is not installed"
elif ! timeout 10 "${PSQL[@]}" -c 'SELECT 1' >/dev/null 2>"$WORK/pg-check.err"; then
    PG_OK=0
    PG_SKIP_REASON="cannot connect as $PG_USER to $PG_HOST:$PG_PORT: $(tr '\n' ' ' <"$WORK/pg-check.err" | head -c 200)"
fi
if [[ $PG_OK == 0 ]]; then
    log "**************************************************************"
    log "SKIPPING POSTGRES: $PG_SKIP_REASON"
    log "**************************************************************"
    NOTES+=("Postgres SKIPPED: $PG_SKIP_REASON")
fi

for store in $STORES; do
    [[ $store == postgres && $PG_OK == 0 ]] && continue
    for alg in $ALGS; do
        run_combo "$store" "$alg" || true
        stop_server
        drop_db
    done
done

LOAD_AFTER=$(loadavg)
overrides=""
[[ $CONNECTIONS != "$DEFAULT_CONNECTIONS" ]] && overrides+=" BENCH_CONNECTIONS=\"$CONNECTIONS\""
[[ $DURATION != "$DEFAULT_DURATION" ]] && overrides+=" BENCH_DURATION=$DURATION"

{
    echo "# Portcullis benchmark (client_credentials; code+PKCE flows and refreshes) — $TS"
    echo
    echo "- commit: $GIT_REV; machine: $(nproc) cores, $CPU; $WRK_VERSION"
    echo "- POST /token grant_type=client_credentials, client_secret_basic, JWT access tokens;" \
        "wrk ${WRK_THREADS} threads (1 at 1 connection), ${DURATION} s per row after a ${WARMUP_SECONDS} s warm-up," \
        "request timeout ${WRK_TIMEOUT}"
    if [[ -n $overrides ]]; then
        echo "- **non-standard run:**$overrides (not comparable with standard runs)"
    fi
    echo "- wrk shares the cores with the server: figures are lower than with a dedicated load machine." \
        "Load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
    echo
    echo "| store | alg | connections | req/s | p50 ms | p99 ms | errors | RSS MiB |"
    echo "|---|---|---:|---:|---:|---:|---|---:|"
    if ((${#ROWS[@]} > 0)); then printf '%s\n' "${ROWS[@]}"; fi
    if ((${#NOTES[@]} > 0)); then
        echo
        for n in "${NOTES[@]}"; do echo "- $n"; done
    fi
    if ((${#FLOW_SECTIONS[@]} > 0)); then
        echo
        echo "## Authorization code + PKCE flows and refreshes (bench/flows.rs)"
        echo
        echo "Each flow is a new browser over plain HTTP: GET /authorize, the sign-in form" \
            "(argon2id), the consent form (or none for the first-party client), the 302 with the code," \
            "POST /token. Workers = concurrent clients, ${DURATION} s per row; latency is per flow or refresh."
        printf '%s\n' "${FLOW_SECTIONS[@]}"
    fi
    echo
    echo "RSS: server VmRSS right after each row's run. ⚠: errors during the run; that figure is not a throughput."
    echo "Raw wrk output: bench/results/$TS.log"
} >"$OUT_MD"

echo
cat "$OUT_MD"
echo
log "saved to ${OUT_MD#"$ROOT"/}"
if [[ $FAILED != 0 ]]; then
    log "some runs failed or saw errors (⚠ above)"
    exit 1
fi
