#!/usr/bin/env bash
# bench/purge.sh — what one housekeeping pass costs on a big backlog.
#
#   bash bench/purge.sh                    # 1,000,000 expired rows, SQLite and Postgres
#   PURGE_ROWS=100000 PURGE_STORES=sqlite bash bench/purge.sh
#
# For each store: a fresh database migrated by the release binary (`portcullis migrate`), then
# PURGE_ROWS expired refresh-token rows and PURGE_ROWS/4 expired replay-cache (`used_jtis`)
# rows written straight with SQL (bulk inserts: the server would take hours to issue that
# many), plus 10,000 live refresh rows that must survive. Then `portcullis purge` (one pass,
# the default batch size unless PORTCULLIS_HOUSEKEEPING_BATCH_SIZE is set) is timed, and the
# rows left are counted: every expired row gone, every live one kept, or the script fails.
# BENCH_PREBUILT=dir uses a portcullis binary already built there (as bench/run.sh does).

set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${PURGE_ROWS:-1000000}
STORES=${PURGE_STORES:-sqlite postgres}
LIVE=10000
PSQL=(psql -h 127.0.0.1 -p 5432 -U postgres -X -q -A -t -v ON_ERROR_STOP=1)

die() { echo "purge-bench: error: $*" >&2; exit 1; }
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "PURGE_ROWS must be a positive integer"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-purge.XXXXXX")
PG_DB=""
cleanup() {
    [[ -n $PG_DB ]] && "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -n ${BENCH_PREBUILT:-} ]]; then
    BIN=$BENCH_PREBUILT/portcullis
else
    (cd "$ROOT" && cargo build --release --bin portcullis) >&2 || die "cargo build --release failed"
    BIN=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/portcullis
fi
[[ -x $BIN ]] || die "no portcullis binary at $BIN"
KEK=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
NOW=$(date +%s)
OLD=$((NOW - 7 * 86400)) # expired a week ago: past every grace the purge allows
FUTURE=$((NOW + 86400))

# The rows, in SQL both dialects accept: a recursive counter (SQLite) or generate_series.
fill_sql() { # series-expression
    local s=$1
    cat <<SQL
INSERT INTO refresh_tokens (token_hash, grant_id, client_id, subject, scope, audience, claims,
    issued_at, expires_at, consumed_at, family_expires_at)
SELECT 'old-' || n, 'grant-' || n, 'bench-client', 'user-' || (n % 1000), 'openid', '[]', '{}',
    $OLD - 3600, $OLD, NULL, $OLD FROM $s(1, $ROWS) AS s(n);
INSERT INTO refresh_tokens (token_hash, grant_id, client_id, subject, scope, audience, claims,
    issued_at, expires_at, consumed_at, family_expires_at)
SELECT 'live-' || n, 'grant-live-' || n, 'bench-client', 'user-' || (n % 1000), 'openid', '[]',
    '{}', $NOW, $FUTURE, NULL, $FUTURE FROM $s(1, $LIVE) AS s(n);
INSERT INTO used_jtis (issuer, jti, expires_at)
SELECT 'https://issuer.example', 'jti-' || n, $OLD FROM $s(1, $((ROWS / 4))) AS s(n);
SQL
}

run_store() { # store
    local store=$1 url
    case $store in
    sqlite) url="sqlite://$WORK/purge.db" ;;
    postgres)
        PG_DB="portcullis_purge_$$"
        "${PSQL[@]}" -d postgres -c "CREATE DATABASE \"$PG_DB\"" >/dev/null || die "cannot create the Postgres database"
        url="postgres://postgres@127.0.0.1:5432/$PG_DB"
        ;;
    *) die "PURGE_STORES: sqlite and/or postgres, got '$store'" ;;
    esac
    local env=(env -i PATH="$PATH" PORTCULLIS_DATABASE_URL="$url" PORTCULLIS_KEY_ENCRYPTION_KEY="$KEK")
    [[ -n ${PORTCULLIS_HOUSEKEEPING_BATCH_SIZE:-} ]] &&
        env+=(PORTCULLIS_HOUSEKEEPING_BATCH_SIZE="$PORTCULLIS_HOUSEKEEPING_BATCH_SIZE")
    "${env[@]}" "$BIN" migrate >/dev/null 2>&1 || die "$store: migrate failed"
    local t0 t1 fill_s purge_s
    t0=$(date +%s%N)
    case $store in
    sqlite)
        # SQLite has no generate_series without an extension: a recursive counter view instead.
        { echo "PRAGMA journal_mode=WAL; BEGIN;"
          echo "CREATE TEMP TABLE series(n INTEGER PRIMARY KEY);"
          echo "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $(( ROWS > LIVE ? ROWS : LIVE ))) INSERT INTO series SELECT n FROM c;"
          fill_sql series_between | sed 's/FROM series_between(1, \([0-9]*\)) AS s(n)/FROM series WHERE n <= \1/'
          echo "COMMIT;"; } | sqlite3 "$WORK/purge.db" >/dev/null || die "sqlite: filling failed"
        ;;
    postgres)
        fill_sql generate_series | "${PSQL[@]}" -d "$PG_DB" >/dev/null || die "postgres: filling failed"
        "${PSQL[@]}" -d "$PG_DB" -c "VACUUM ANALYZE" >/dev/null
        ;;
    esac
    t1=$(date +%s%N)
    fill_s=$(python3 -c "print(f'{($t1 - $t0) / 1e9:.1f}')")
    t0=$(date +%s%N)
    "${env[@]}" "$BIN" purge --output json >"$WORK/purged.json" 2>"$WORK/purge.err" ||
        { cat "$WORK/purge.err" >&2; die "$store: portcullis purge failed"; }
    t1=$(date +%s%N)
    purge_s=$(python3 -c "print(f'{($t1 - $t0) / 1e9:.2f}')")
    local left live jtis
    case $store in
    sqlite)
        left=$(sqlite3 "$WORK/purge.db" "SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'old-%'")
        live=$(sqlite3 "$WORK/purge.db" "SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'live-%'")
        jtis=$(sqlite3 "$WORK/purge.db" "SELECT count(*) FROM used_jtis")
        ;;
    postgres)
        left=$("${PSQL[@]}" -d "$PG_DB" -c "SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'old-%'")
        live=$("${PSQL[@]}" -d "$PG_DB" -c "SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'live-%'")
        jtis=$("${PSQL[@]}" -d "$PG_DB" -c "SELECT count(*) FROM used_jtis")
        ;;
    esac
    local total=$((ROWS + ROWS / 4))
    printf '| %s | %d | %s s | %s s | %s rows/s | %s | %s |\n' "$store" "$total" "$fill_s" "$purge_s" \
        "$(python3 -c "print(f'{$total / $purge_s:,.0f}')")" "$((left + jtis))" "$live/$LIVE"
    [[ $left == 0 && $jtis == 0 ]] || die "$store: $left refresh rows and $jtis replay-cache rows left behind"
    [[ $live == "$LIVE" ]] || die "$store: live rows were deleted ($live of $LIVE left)"
}

echo "purge of $ROWS expired refresh rows + $((ROWS / 4)) expired used_jtis rows (+ $LIVE live rows kept); batch size ${PORTCULLIS_HOUSEKEEPING_BATCH_SIZE:-1000 (default)}"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(git -C "$ROOT" rev-parse --short HEAD)"
echo
echo "| store | expired rows | fill (SQL) | one purge pass | rate | expired left | live kept |"
echo "|---|---|---|---|---|---|---|"
for store in $STORES; do
    run_store "$store"
done
