#!/usr/bin/env bash
# bench/crossnode/run.sh: send-to-deliver latency between two Parley nodes on one PostgreSQL (the path every message
# between users on different nodes takes: commit, placement in the event log, NOTIFY, the other node's fan-out).
#
#   bench/crossnode/run.sh PARLEY_BIN POSTGRES_URL [N]
#
# POSTGRES_URL names a server (any database on it): a database is created for the run and dropped afterwards. Both
# nodes start with the risk limits lifted. Needs Python with `websockets` (PYTHON, default python3).
set -euo pipefail
BIN=$1; ADMIN_URL=$2; N=${3:-300}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-crossnode.XXXXXX")
DB=parley_crossnode_$RANDOM$RANDOM
URL="${ADMIN_URL%/*}/$DB"
PIDS=()
psql_admin() { psql "$ADMIN_URL" -qAtc "$1" > /dev/null; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql_admin "CREATE DATABASE $DB"
KEY=$("$BIN" apikey create --scope admin --name crossnode --database "$URL" --data-dir "$WORK/keys" 2>/dev/null | tail -1)
[[ "$KEY" == prly_* ]] || { echo "could not create an API key" >&2; exit 1; }
# Both nodes need the same secret (tokens minted by one are checked by the other).
SECRET=$("$PYTHON" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
PORTS=()
for node in a b; do
    port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    env PARLEY_DATABASE_URL="$URL" PARLEY_DATA_DIR="$WORK/$node" PARLEY_SECRET="$SECRET" PARLEY_HOST=127.0.0.1 PARLEY_PORT="$port" \
        PARLEY_LOG_LEVEL=warning PARLEY_RATE_LIMITS=off PARLEY_FLOOD_DETECTION=off "$BIN" serve > "$WORK/$node.log" 2>&1 &
    PIDS+=($!)
    PORTS+=("$port")
done
for port in "${PORTS[@]}"; do
    for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { cat "$WORK"/*.log >&2; echo "a node did not start" >&2; exit 1; }
done
"$PYTHON" "$HERE/probe.py" "${PORTS[0]}" "${PORTS[1]}" "$KEY" "$N"
