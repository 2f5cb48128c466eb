#!/usr/bin/env bash
# bench/run.sh — Portcullis' benchmark suite, and (with --quick) CI's regression guard.
#
#   bash bench/run.sh            # the full suite (~30 min): every scenario, SQLite and Postgres,
#                                # 1, 16 and 64 connections, 10 s per row
#   bash bench/run.sh --quick    # the guard (< 1 min once built): SQLite, 64 connections, 3 s
#                                # per row, a few scenarios; fails on gross regressions only,
#                                # judged by ratios against the ceiling program
#
# What it does (bench/README.md has the details):
# 1. builds the release server (cargo build --release) and the bench programs
#    (cargo bench --no-run: bench/ceiling.rs, bench/flows.rs, bench/argon2.rs), and runs
#    private copies of them;
# 2. runs the ceiling (bench/ceiling.rs: a minimal axum server that does only what a client
#    credentials request must cost) under the same load as Portcullis, and argon2id
#    verifications per second through the server's own password code (bench/argon2.rs);
# 3. for each store: starts Portcullis on a fresh database (SQLite in a temp dir; a fresh
#    Postgres database on 127.0.0.1:5432, dropped at the end — skipped loudly when
#    unreachable), registers what the scenarios need through the admin API, restarts it
#    (start-up to ready is timed on both starts), then drives every scenario with wrk and
#    bench/request.lua at each connection count, then the browser flows with bench/flows.rs;
# 4. bench/report.py prints the tables (requests/s, p50/p99, errors, RSS; ratios to the
#    ceiling and to argon2; the issue's targets) and saves them to bench/results/<UTC>.md,
#    with the raw wrk output and server log tails in bench/results/<UTC>.log.
#
# READ THE FIGURES WITH THIS IN MIND:
# * wrk and the flows client run on the same machine and share its cores with the server, so
#   the figures are lower than a dedicated load machine would show, and anything else
#   running makes them noisy (the load average before and after is in the header).
# * The configuration is fixed so that runs are comparable: wrk with 2 threads (1 at 1
#   connection), a 1 s unrecorded warm-up at 16 connections before each scenario, 10 s per
#   row, 5 s request timeout, server defaults apart from the store (no PORTCULLIS_* variable
#   or portcullis.toml from the caller). BENCH_CONNECTIONS, BENCH_DURATION and BENCH_STORES
#   may be overridden for a quicker look; the header then marks the run as non-standard.
# * Every answer is checked (status and body, in bench/request.lua; every protocol step, in
#   flows.rs): a row with any error is flagged ⚠ and is not a throughput.
#
# Needs: cargo, curl, python3, wrk (installed from Debian with apt-get when missing), and psql
# for the Postgres rows. Every wait is bounded; every process started is stopped on exit.

set -Eeuo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUICK=0
for arg in "$@"; do
    case $arg in
    --quick) QUICK=1 ;;
    -h | --help)
        sed -n '2,12p' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        echo "bench: unknown argument $arg (use --quick or nothing)" >&2
        exit 2
        ;;
    esac
done

# ---- fixed configuration (see the header before changing anything here) ----
if [[ $QUICK == 1 ]]; then
    MODE=quick
    DEFAULT_CONNECTIONS="64"
    DEFAULT_DURATION=3
    DEFAULT_STORES="sqlite"
    SCENARIOS="cc-es256 introspect jwks discovery"
    FLOW_SCENARIOS="sso"
    RUN_ARGON2=0
else
    MODE=full
    DEFAULT_CONNECTIONS="1 16 64"
    DEFAULT_DURATION=10
    DEFAULT_STORES="sqlite postgres"
    SCENARIOS="cc-es256 cc-rs256 cc-eddsa cc-opaque introspect jwks discovery device-poll token-exchange"
    FLOW_SCENARIOS="consent signin sso refresh"
    RUN_ARGON2=1
fi
CONNECTIONS=${BENCH_CONNECTIONS:-$DEFAULT_CONNECTIONS}
DURATION=${BENCH_DURATION:-$DEFAULT_DURATION}
DURATION=${DURATION%s}
STORES=${BENCH_STORES:-$DEFAULT_STORES}
WRK_THREADS=2
WARMUP_SECONDS=1
WARMUP_CONNECTIONS=16
# WRK_TIMEOUT, READY_WAIT, STOP_WAIT, the Postgres address and BENCH_HOST: bench/lib.sh.

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION must be a whole number of seconds, got '$DURATION'"
for c in $CONNECTIONS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be positive integers, got '$c'"
done
[[ -n ${CONNECTIONS// /} ]] || die "BENCH_CONNECTIONS is empty"
for s in $STORES; do
    [[ $s == sqlite || $s == postgres ]] || die "BENCH_STORES: sqlite and/or postgres, got '$s'"
done
for tool in cargo curl python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

# ---- state for cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")

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

# ---- build ----
# CI may build once and point BENCH_PREBUILT at the programs.
build_programs ceiling flows argon2
BIN=$WORK/portcullis

ensure_wrk

TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS"
SUFFIX=""
[[ $QUICK == 1 ]] && SUFFIX=-quick
OUT_MD=$RESULTS/$TS$SUFFIX.md
OUT_LOG=${OUT_MD%.md}.log
TSV=$WORK/results.tsv
: >"$OUT_LOG"
: >"$TSV"

GIT_REV=$(git_rev)
LOAD_BEFORE=$(loadavg)
ADMIN_TOKEN=$(py 'import secrets; print(secrets.token_urlsafe(36))')

record() { # kind scenario connections rps p50 p99 errors detail rss
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"
}
meta() { printf 'meta\t%s\t%s\n' "$1" "$2" >>"$TSV"; }
note() { meta note "$1"; }

# Runs wrk once with REQUEST (the request.lua arguments); prints BENCH_RESULT's fields.
run_wrk() { # connections duration label
    local c=$1 d=$2 label=$3 t out rc=0
    t=$((c < WRK_THREADS ? c : WRK_THREADS))
    out=$WORK/wrk-$label.txt
    timeout -k 5 $((d + 60)) wrk -t"$t" -c"$c" -d"${d}s" --timeout "$WRK_TIMEOUT" --latency \
        -s "$LUA" "$BASE_URL" -- "${REQUEST[@]}" >"$out" 2>&1 || rc=$?
    {
        echo "==== $label: wrk -t$t -c$c -d${d}s --timeout $WRK_TIMEOUT --latency (exit $rc) ===="
        cat "$out"
    } >>"$OUT_LOG"
    [[ $rc == 0 ]] || return 1
    grep -m1 '^BENCH_RESULT ' "$out" | cut -d' ' -f2-
}

# Measures REQUEST at every connection count; one TSV row each.
measure() { # kind scenario
    local kind=$1 scenario=$2 c fields
    run_wrk "$WARMUP_CONNECTIONS" "$WARMUP_SECONDS" "$kind-$scenario-warmup" >/dev/null || true
    for c in $CONNECTIONS; do
        if ! kill -0 "$CURRENT_PID" 2>/dev/null; then
            record "$kind" "$scenario" "$c" 0 0 0 1 "server process died" "?"
            return 1
        fi
        log "$kind: $scenario at $c connection(s) for ${DURATION}s"
        if ! fields=$(run_wrk "$c" "$DURATION" "$kind-$scenario-c$c") || [[ -z $fields ]]; then
            record "$kind" "$scenario" "$c" 0 0 0 1 "wrk failed (see the .log)" "?"
            continue
        fi
        local requests rps p50_ms p99_ms non200 socket_errors statuses duration_s
        read_bench_result "$fields"
        local errors=$((non200 + socket_errors)) detail="-"
        ((errors > 0)) && detail="of $requests: wrong answers $statuses; socket errors $socket_errors"
        record "$kind" "$scenario" "$c" "$rps" "$p50_ms" "$p99_ms" "$errors" "$detail" "$(proc_mib "$CURRENT_PID" VmRSS)"
    done
}

# One request by hand with REQUEST; a wrong answer is noted.
sanity() { # label
    sanity_request "$1" || {
        note "$SANITY_ERROR"
        return 1
    }
}

# ---- the ceiling and the argon2 limit ----
run_ceiling() {
    local port secret log_file=$WORK/ceiling.log start ms
    port=$(free_port)
    secret=$(py 'import secrets; print(secrets.token_urlsafe(32))')
    BASE_URL=http://127.0.0.1:$port
    start=$(now_ns)
    env -i PATH=/usr/bin:/bin CEILING_BIND="127.0.0.1:$port" CEILING_CLIENT_ID=bench-ceiling \
        CEILING_CLIENT_SECRET="$secret" "$WORK/ceiling" >"$log_file" 2>&1 &
    CURRENT_PID=$!
    local i
    for ((i = 0; i < READY_WAIT * 10; i++)); do
        grep -q '^ready' "$log_file" 2>/dev/null && break
        kill -0 "$CURRENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q '^ready' "$log_file"; then
        server_log_tail ceiling "$log_file"
        record ceiling cc-es256 all 0 0 0 1 "the ceiling did not start" "?"
        stop_server
        return 1
    fi
    meta "ceiling idle_rss_mib" "$(proc_mib "$CURRENT_PID" VmRSS)"
    REQUEST=(POST /token 200 access_token "grant_type=client_credentials"
        "Authorization: Basic $(basic_of bench-ceiling "$secret")"
        "Content-Type: application/x-www-form-urlencoded")
    if sanity "ceiling"; then
        measure ceiling cc-es256
    else
        record ceiling cc-es256 all 0 0 0 1 "sanity request failed" "?"
    fi
    meta "ceiling peak_rss_mib" "$(proc_mib "$CURRENT_PID" VmHWM)"
    stop_server
}

run_argon2() {
    log "argon2id verifications per second (bench/argon2.rs), ${DURATION}s per row"
    local out=$WORK/argon2.md rc=0 rows
    rows=$(wc -w <<<"$CONNECTIONS")
    BENCH_CONNECTIONS=$CONNECTIONS BENCH_DURATION=$DURATION \
        timeout -k 5 $((rows * (DURATION + 20) + 60)) "$WORK/argon2" --bench >"$out" 2>>"$OUT_LOG" || rc=$?
    # | callers | verifications/s | p50 ms | p99 ms | done |
    awk -F'|' 'NR > 2 { bad = index($0, "⚠") ? 1 : 0; gsub(/ /, "", $2); gsub(/[ ⚠]/, "", $3); gsub(/ /, "", $4); gsub(/ /, "", $5);
        printf "argon2\tverify\t%s\t%s\t%s\t%s\t%s\t-\t-\n", $2, $3, $4, $5, bad }' "$out" >>"$TSV"
    [[ $rc == 0 ]] || note "argon2 bench exited with $rc"
}

# ---- Portcullis on one store ----
# Registers what the scenarios need. Sets the *_ID / *_BASIC variables.
register_all() { # dir
    local dir=$1 code
    reg() { # name path json -> $dir/name.json, must be 201
        code=$(admin POST "$2" "$3" "$dir/$1.json")
        [[ $code == 201 ]] || {
            note "registering $1 answered $code: $(head -c 300 "$dir/$1.json")"
            return 1
        }
    }
    local te=urn:ietf:params:oauth:grant-type:token-exchange
    # The API client that introspects the bench APIs' tokens (RFC 7662 §2.1).
    reg introspector /clients '{"client_name":"bench API","profile":"api"}' || return 1
    INTRO_ID=$(json_field "$dir/introspector.json" client_id)
    INTRO_BASIC=$(basic_of "$INTRO_ID" "$(json_field "$dir/introspector.json" client_secret)")
    # One API per access-token setting: the algorithm and the format are per-resource overrides.
    local alg
    for alg in ES256 RS256 EdDSA; do
        reg "res-$alg" /resources "{\"identifier\":\"$BENCH_HOST/${alg,,}\",\"name\":\"bench $alg\",\"scopes\":[\"bench.read\"],\"signing_alg\":\"$alg\",\"client_id\":\"$INTRO_ID\"}" || return 1
    done
    reg res-opaque /resources "{\"identifier\":\"$BENCH_HOST/opaque\",\"name\":\"bench opaque\",\"scopes\":[\"bench.read\"],\"access_token_format\":\"opaque\",\"client_id\":\"$INTRO_ID\"}" || return 1
    # Token exchange (RFC 8693): API A exchanges a token for itself into one for API B.
    reg api-b /clients "{\"client_name\":\"bench API B\",\"profile\":\"api\",\"grant_types\":[\"$te\"]}" || return 1
    reg res-b /resources "{\"identifier\":\"$BENCH_HOST/b\",\"name\":\"bench B\",\"scopes\":[\"b.read\"],\"client_id\":\"$(json_field "$dir/api-b.json" client_id)\"}" || return 1
    reg api-a /clients "{\"client_name\":\"bench API A\",\"profile\":\"api\",\"grant_types\":[\"$te\"],\"scope\":\"b.read\",\"token_exchange_audiences\":[\"$BENCH_HOST/b\"]}" || return 1
    API_A_BASIC=$(basic_of "$(json_field "$dir/api-a.json" client_id)" "$(json_field "$dir/api-a.json" client_secret)")
    reg res-a /resources "{\"identifier\":\"$BENCH_HOST/a\",\"name\":\"bench A\",\"scopes\":[\"a.read\"],\"client_id\":\"$(json_field "$dir/api-a.json" client_id)\"}" || return 1
    # The service that asks for tokens (RFC 6749 §4.4).
    reg service /clients "{\"client_name\":\"bench service\",\"profile\":\"service\",\"scope\":\"bench.read a.read\",\"allowed_resources\":[\"$BENCH_HOST/es256\",\"$BENCH_HOST/rs256\",\"$BENCH_HOST/eddsa\",\"$BENCH_HOST/opaque\",\"$BENCH_HOST/a\"]}" || return 1
    SERVICE_BASIC=$(basic_of "$(json_field "$dir/service.json" client_id)" "$(json_field "$dir/service.json" client_secret)")
    # A device (RFC 8628), public.
    reg device /clients '{"client_name":"bench TV","profile":"device"}' || return 1
    DEVICE_ID=$(json_field "$dir/device.json" client_id)
}

# Sets REQUEST for a scenario; fetches what it needs (fresh tokens, a device code) first, so
# nothing expires during its runs.
prepare() { # scenario
    local form='Content-Type: application/x-www-form-urlencoded'
    case $1 in
    cc-es256 | cc-rs256 | cc-eddsa | cc-opaque)
        local r=${1#cc-}
        REQUEST=(POST /token 200 access_token "grant_type=client_credentials&resource=$(urlencode "$BENCH_HOST/$r")"
            "Authorization: Basic $SERVICE_BASIC" "$form")
        ;;
    introspect)
        local t
        t=$(service_token "$BENCH_HOST/es256")
        [[ -n $t ]] || return 1
        REQUEST=(POST /introspect 200 '"active":true' "token=$t" "Authorization: Basic $INTRO_BASIC" "$form")
        ;;
    jwks) REQUEST=(GET /.well-known/jwks.json 200 '"keys"' -) ;;
    discovery) REQUEST=(GET /.well-known/openid-configuration 200 '"issuer"' -) ;;
    device-poll)
        local dc
        dc=$(curl -sS --max-time 10 --data "client_id=$DEVICE_ID&scope=openid" "$BASE_URL/device_authorization" |
            py 'import json, sys; print(json.load(sys.stdin).get("device_code", ""))')
        [[ -n $dc ]] || return 1
        # RFC 8628 §3.5: polling a pending code answers authorization_pending, or slow_down
        # when polled faster than the interval; both are the right answer here.
        REQUEST=(POST /token 400 'authorization_pending|slow_down'
            "grant_type=$(urlencode urn:ietf:params:oauth:grant-type:device_code)&device_code=$dc&client_id=$DEVICE_ID" "$form")
        ;;
    token-exchange)
        local t
        t=$(service_token "$BENCH_HOST/a")
        [[ -n $t ]] || return 1
        REQUEST=(POST /token 200 access_token
            "grant_type=$(urlencode urn:ietf:params:oauth:grant-type:token-exchange)&subject_token=$t&subject_token_type=$(urlencode urn:ietf:params:oauth:token-type:access_token)&resource=$(urlencode "$BENCH_HOST/b")"
            "Authorization: Basic $API_A_BASIC" "$form")
        ;;
    *) die "unknown scenario $1" ;;
    esac
}

run_store() { # store
    local store=$1 dir=$WORK/$store
    mkdir -p "$dir"
    SERVER_ENV=(PATH=/usr/bin:/bin HOME="$dir" NO_COLOR=1 PORTCULLIS_ADMIN_TOKEN="$ADMIN_TOKEN")
    if [[ $store == sqlite ]]; then
        SERVER_ENV+=(PORTCULLIS_DATABASE_URL="sqlite://$dir/portcullis.db")
    else
        local db="portcullis_bench_$$"
        create_db "$db" "$dir/psql.err" || {
            record "$store" setup all 0 0 0 1 "CREATE DATABASE failed: $(head -c 200 "$dir/psql.err")" "?"
            return 1
        }
        SERVER_ENV+=(PORTCULLIS_DATABASE_URL="$(pg_url "$db")"
            PORTCULLIS_KEY_ENCRYPTION_KEY="$(random_b64_32)")
    fi

    # First start: migrations and key generation on an empty database.
    if ! start_portcullis "$dir" "$dir/server.log" "$store first"; then
        record "$store" setup all 0 0 0 1 "server not ready within ${READY_WAIT}s (see the .log)" "?"
        return 1
    fi
    meta "$store startup_first_ms" "$STARTUP_MS"
    if ! register_all "$dir"; then
        record "$store" setup all 0 0 0 1 "registration through the admin API failed" "?"
        server_log_tail "$store" "$dir/server.log"
        stop_server
        return 1
    fi
    stop_server
    # Second start, on the database as it now is: the start-up a deployment sees.
    if ! start_portcullis "$dir" "$dir/server.log" "$store restart"; then
        record "$store" setup all 0 0 0 1 "server not ready after a restart (see the .log)" "?"
        return 1
    fi
    meta "$store startup_ms" "$STARTUP_MS"
    log "$store: server pid $CURRENT_PID ready on $BASE_URL in $STARTUP_MS ms"
    sleep 1
    meta "$store idle_rss_mib" "$(proc_mib "$CURRENT_PID" VmRSS)"
    local log_mark
    log_mark=$(wc -l <"$dir/server.log")

    local scenario
    for scenario in $SCENARIOS; do
        kill -0 "$CURRENT_PID" 2>/dev/null || break
        if ! prepare "$scenario" || ! sanity "$store $scenario"; then
            record "$store" "$scenario" all 0 0 0 1 "could not prepare the scenario (see the notes)" "?"
            continue
        fi
        measure "$store" "$scenario" || break
    done

    if [[ -n $FLOW_SCENARIOS ]] && kill -0 "$CURRENT_PID" 2>/dev/null; then
        local out=$dir/flows.md rc=0 rows
        rows=$(($(wc -w <<<"$FLOW_SCENARIOS") * $(wc -w <<<"$CONNECTIONS")))
        log "$store: browser flows (bench/flows.rs: $FLOW_SCENARIOS), ${DURATION}s per row"
        echo "==== $store: bench/flows.rs (stderr) ====" >>"$OUT_LOG"
        # The variables go in the environment, not the command line (ps shows arguments).
        BENCH_URL=$BASE_URL BENCH_ADMIN_TOKEN=$ADMIN_TOKEN BENCH_CONNECTIONS=$CONNECTIONS \
            BENCH_DURATION=$DURATION BENCH_SCENARIOS=$FLOW_SCENARIOS \
            timeout -k 5 $((rows * (DURATION + 20) + 60)) "$WORK/flows" --bench >"$out" 2>>"$OUT_LOG" || rc=$?
        # | scenario | workers | per s | p50 ms | p99 ms | done | errors |
        awk -F'|' -v store="$store" 'NR > 2 && NF > 7 {
            label = $2; gsub(/^ +| +$/, "", label)
            key = label ~ /consent/ ? "flow-consent" : label ~ /SSO/ ? "flow-sso" : label ~ /sign-in only/ ? "flow-signin" : "refresh"
            w = $3; gsub(/ /, "", w); r = $4; gsub(/[ ⚠]/, "", r); p50 = $5; gsub(/ /, "", p50); p99 = $6; gsub(/ /, "", p99)
            e = $8; gsub(/^ +| +$/, "", e); n = e; sub(/^⚠ /, "", n); sub(/ .*/, "", n)
            d = e; sub(/^⚠ [0-9]+ /, "", d)
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\n", store, key, w, r, p50, p99, n + 0, (n + 0 > 0 ? d : "-") }' "$out" >>"$TSV"
        [[ $rc == 0 ]] || note "$store flows bench exited with $rc (rows with ⚠ saw errors; no rows means it could not run: see the .log)"
    fi

    if kill -0 "$CURRENT_PID" 2>/dev/null; then
        meta "$store peak_rss_mib" "$(proc_mib "$CURRENT_PID" VmHWM)"
        meta "$store end_rss_mib" "$(proc_mib "$CURRENT_PID" VmRSS)"
    else
        note "$store: the server died during the run"
        server_log_tail "$store after crash" "$dir/server.log"
    fi
    # Anything the server logged at WARN/ERROR under load, or a panic.
    local bad pattern='\b(ERROR|WARN)\b|panicked'
    tail -n +$((log_mark + 1)) "$dir/server.log" >"$dir/server-load.log"
    bad=$(grep -cE "$pattern" "$dir/server-load.log" || true)
    if ((bad > 0)); then
        note "$store: under load the server logged $bad warning/error line(s), e.g. $(grep -m1 -E "$pattern" "$dir/server-load.log" | cut -c1-240)"
        server_log_tail "$store" "$dir/server.log"
    fi
    stop_server
    drop_db
}

# ---- the run ----
log "mode: $MODE; stores: $STORES; connections: $CONNECTIONS; ${DURATION}s per row"
run_ceiling || true
[[ $RUN_ARGON2 == 1 ]] && run_argon2

PG_OK=1
if [[ " $STORES " == *" postgres "* ]]; then
    reason=$(pg_problem)
    if [[ -n $reason ]]; then
        PG_OK=0
        log "**************************************************************"
        log "SKIPPING POSTGRES: $reason"
        log "**************************************************************"
        note "Postgres SKIPPED: $reason"
    fi
fi
for store in $STORES; do
    [[ $store == postgres && $PG_OK == 0 ]] && continue
    run_store "$store" || true
    stop_server
    drop_db
done

overrides=""
[[ $CONNECTIONS != "$DEFAULT_CONNECTIONS" ]] && overrides+=" BENCH_CONNECTIONS=\"$CONNECTIONS\""
[[ $DURATION != "$DEFAULT_DURATION" ]] && overrides+=" BENCH_DURATION=$DURATION"
[[ $STORES != "$DEFAULT_STORES" ]] && overrides+=" BENCH_STORES=\"$STORES\""
meta mode "$MODE"
meta commit "$GIT_REV"
meta timestamp "$TS"
meta machine "$(machine_summary)"
meta kernel "$(uname -sr)"
meta wrk "$(wrk_version)"
meta config "wrk ${WRK_THREADS} threads (1 at 1 connection), ${DURATION} s per row after a ${WARMUP_SECONDS} s warm-up at ${WARMUP_CONNECTIONS} connections per scenario, request timeout ${WRK_TIMEOUT}; server defaults apart from the store"
meta overrides "$overrides"
meta load "before: $LOAD_BEFORE; after: $(loadavg)"
meta raw_log "bench/results/$(basename "$OUT_LOG")"

rc=0
python3 "$BENCH/report.py" "$TSV" >"$OUT_MD" || rc=$?
echo
cat "$OUT_MD"
echo
log "saved to ${OUT_MD#"$ROOT"/}"
exit "$rc"
