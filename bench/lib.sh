# bench/lib.sh — what bench/run.sh and bench/soak.sh share: the programs they build, the
# server they start and stop, the Postgres database they create and drop, the admin API they
# register through, the sanity request, and the reading of wrk's result line.
#
# Sourced, never run; it sets ROOT (the repository), BENCH, LUA and RESULTS. The sourcing
# script defines die and log (its own prefix on every message), and sets WORK (its temporary
# directory), OUT_LOG (the raw log) and, before starting a server, BIN and SERVER_ENV.
# Every wait is bounded.

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
LUA=$BENCH/request.lua
RESULTS=$BENCH/results

# ---- fixed configuration shared by both ----
PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
READY_WAIT=60 # seconds for a server to answer /readyz
STOP_WAIT=10  # seconds for a graceful stop before SIGKILL
WRK_TIMEOUT=5s
BENCH_HOST=https://bench.portcullis.test
PSQL=(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -X -q -A -t -v ON_ERROR_STOP=1)
export PGCONNECT_TIMEOUT=5

CURRENT_PID="" # the one server (Portcullis or the ceiling) running, if any
CURRENT_DB=""  # the one Postgres database existing, if any

# ---- small tools ----
py() { python3 -c "$@"; }
random_b64_32() { py 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'; }
free_port() { py 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
json_field() { py 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
urlencode() { py 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# RFC 6749 §2.3.1: form-urlencode id and secret, then base64 "id:secret".
basic_of() {
    py 'import base64, sys, urllib.parse as u; q = lambda s: u.quote_plus(s, safe="")
print(base64.b64encode((q(sys.argv[1]) + ":" + q(sys.argv[2])).encode()).decode())' "$1" "$2"
}
proc_mib() { awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
now_ns() { date +%s%N; }
machine_summary() {
    echo "$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown), $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
}
wrk_version() { wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2 || true; }

# The commit measured, marked when the code measured differs from it.
git_rev() {
    local rev
    rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(cd "$ROOT" && git status --porcelain --untracked-files=no -- src bench Cargo.toml Cargo.lock migrations 2>/dev/null) ]]; then
        rev="$rev (with uncommitted changes)"
    fi
    echo "$rev"
}

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

# ---- the programs ----
# Private copies in WORK of the release server and the named bench programs (bench/NAME.rs),
# since others may rebuild target/ while a benchmark runs: taken from BENCH_PREBUILT when it
# is set (CI builds once), built here otherwise.
build_programs() { # bench-program...
    local b
    if [[ -n ${BENCH_PREBUILT:-} ]]; then
        log "using the programs built in $BENCH_PREBUILT"
        for b in portcullis "$@"; do
            [[ -x $BENCH_PREBUILT/$b ]] || die "BENCH_PREBUILT: no $b in $BENCH_PREBUILT"
            cp "$BENCH_PREBUILT/$b" "$WORK/$b"
        done
        return 0
    fi
    command -v cargo >/dev/null || die "cargo is required (or set BENCH_PREBUILT)"
    log "building the release server (cargo build --release --bin portcullis)"
    (cd "$ROOT" && cargo build --release --bin portcullis) || die "cargo build --release failed"
    local target_dir
    target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        py 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    [[ -x $target_dir/release/portcullis ]] || die "no binary at $target_dir/release/portcullis"
    cp "$target_dir/release/portcullis" "$WORK/portcullis"
    local benches=()
    for b in "$@"; do benches+=(--bench "$b"); done
    log "building the bench programs (cargo bench --no-run ${benches[*]})"
    (cd "$ROOT" && cargo bench --no-run "${benches[@]}" --message-format=json) |
        py 'import json, shutil, sys
work, names = sys.argv[1], sys.argv[2:]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in names:
        shutil.copy(m["executable"], work + "/" + m["target"]["name"])' "$WORK" "$@" ||
        die "cargo bench --no-run failed"
    for b in "$@"; do
        [[ -x $WORK/$b ]] || die "the $b bench program was not built"
    done
}

# ---- processes ----
# Stops PID: SIGTERM, up to STOP_WAIT seconds for a graceful stop, then SIGKILL.
stop_pid() { # pid
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_WAIT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "process $pid did not stop within ${STOP_WAIT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stop_server() {
    local pid=$CURRENT_PID
    [[ -n $pid ]] || return 0
    CURRENT_PID=""
    stop_pid "$pid"
}

server_log_tail() { # label file
    {
        echo "---- server log ($1), last 40 lines ----"
        tail -n 40 "$2" 2>/dev/null || true
    } >>"$OUT_LOG"
}

# Polls URL every 5 ms until it answers 200 (failing at once if PID exits); prints the
# milliseconds since START_NS.
wait_ready() { # url start_ns pid
    py 'import os, sys, time, urllib.request
url, start, pid, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
deadline = time.time() + limit
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                print(round((time.time_ns() - start) / 1e6))
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.005)
sys.exit(1)' "$1" "$2" "$3" "$READY_WAIT"
}

# Starts `$BIN serve` in DIR with SERVER_ENV on a free port, its output appended to LOG_FILE;
# up to three attempts while the port turns out taken. Not in a subshell: it sets CURRENT_PID,
# BASE_URL and STARTUP_MS (exec to ready, in ms).
start_portcullis() { # dir log-file label
    local dir=$1 log_file=$2 label=$3 attempt port start ms
    STARTUP_MS=""
    for attempt in 1 2 3; do
        port=$(free_port)
        BASE_URL=http://127.0.0.1:$port
        start=$(now_ns)
        (cd "$dir" && exec env -i "${SERVER_ENV[@]}" PORTCULLIS_BIND="127.0.0.1:$port" "$BIN" serve) \
            >>"$log_file" 2>&1 &
        CURRENT_PID=$!
        if ms=$(wait_ready "$BASE_URL/readyz" "$start" "$CURRENT_PID"); then
            STARTUP_MS=$ms
            return 0
        fi
        server_log_tail "$label start attempt $attempt" "$log_file"
        stop_server
        grep -qi 'address already in use' "$log_file" || break
    done
    return 1
}

# ---- Postgres ----
# Why Postgres cannot be used (nothing when it can).
pg_problem() {
    if ! command -v psql >/dev/null; then
        echo "psql is not installed"
    elif ! timeout 10 "${PSQL[@]}" -c 'SELECT 1' >/dev/null 2>"$WORK/pg-check.err"; then
        echo "cannot connect as $PG_USER to $PG_HOST:$PG_PORT: $(tr '\n' ' ' <"$WORK/pg-check.err" | head -c 200)"
    fi
}

# Creates database DB (psql's complaint in ERR-FILE on failure); it becomes CURRENT_DB.
create_db() { # db err-file
    timeout 30 "${PSQL[@]}" -c "CREATE DATABASE \"$1\"" >/dev/null 2>"$2" || return 1
    CURRENT_DB=$1
}

drop_db() {
    local db=$CURRENT_DB
    [[ -n $db ]] || return 0
    CURRENT_DB=""
    timeout 30 "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
        timeout 30 "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 ||
        log "could not drop Postgres database $db; drop it by hand"
}

# The server's PORTCULLIS_DATABASE_URL for database DB (with PGPASSWORD when set).
pg_url() { # db
    local auth=$PG_USER
    if [[ -n ${PGPASSWORD:-} ]]; then
        auth="$PG_USER:$(urlencode "$PGPASSWORD")"
    fi
    echo "postgres://$auth@$PG_HOST:$PG_PORT/$1"
}

# ---- talking to the server ----
admin() { # method path json-body out-file; prints the status code
    curl -sS --max-time 10 -o "$4" -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$BASE_URL/admin$2" || echo 000
}

# A client-credentials access token (RFC 6749 §4.4) of the client whose Basic credentials
# are SERVICE_BASIC, for RESOURCE; nothing when none was issued.
service_token() { # resource
    curl -sS --max-time 10 -H "Authorization: Basic $SERVICE_BASIC" \
        --data "grant_type=client_credentials&resource=$(urlencode "$1")" "$BASE_URL/token" |
        py 'import json, sys; print(json.load(sys.stdin).get("access_token", ""))' 2>/dev/null || true
}

# One request by hand with REQUEST (bench/request.lua's arguments: method, path, status,
# expected text (alternatives split by |, or -), body (or -), headers); it must get the
# answer expected. Otherwise returns 1 with the reason in SANITY_ERROR.
sanity_request() { # label
    local method=${REQUEST[0]} path=${REQUEST[1]} status=${REQUEST[2]} expect=${REQUEST[3]} body=${REQUEST[4]}
    local args=(-sS --max-time 10 -o "$WORK/sanity.out" -w '%{http_code}' -X "$method")
    [[ $body != - ]] && args+=(--data-raw "$body")
    local h code
    for h in "${REQUEST[@]:5}"; do args+=(-H "$h"); done
    code=$(curl "${args[@]}" "$BASE_URL$path") || code=000
    SANITY_ERROR=""
    if [[ $code != "$status" ]]; then
        SANITY_ERROR="$1: sanity request answered $code, expected $status: $(head -c 300 "$WORK/sanity.out")"
        return 1
    fi
    if [[ $expect != - ]] && ! py 'import sys; body = open(sys.argv[1]).read(); sys.exit(0 if any(t in body for t in sys.argv[2].split("|")) else 1)' "$WORK/sanity.out" "$expect"; then
        SANITY_ERROR="$1: sanity answer lacks '$expect': $(head -c 300 "$WORK/sanity.out")"
        return 1
    fi
}

# Reads the fields of request.lua's BENCH_RESULT line into the caller's variables requests,
# duration_s, rps, p50_ms, p99_ms, non200, socket_errors and statuses (the caller declares
# them local); a field missing stays 0 (statuses: -).
read_bench_result() { # fields
    requests=0 duration_s=0 rps=0 p50_ms=0 p99_ms=0 non200=0 socket_errors=0 statuses=-
    local kv
    for kv in $1; do
        case $kv in
        requests=*) requests=${kv#*=} ;;
        duration_s=*) duration_s=${kv#*=} ;;
        rps=*) rps=${kv#*=} ;;
        p50_ms=*) p50_ms=${kv#*=} ;;
        p99_ms=*) p99_ms=${kv#*=} ;;
        non200=*) non200=${kv#*=} ;;
        socket_errors=*) socket_errors=${kv#*=} ;;
        statuses=*) statuses=${kv#*=} ;;
        esac
    done
}
