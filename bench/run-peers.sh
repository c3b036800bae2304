#!/bin/bash
# bench/run-peers.sh: Parley and its peers on the same shapes, on this machine, in one run (issue 8).
#
#   sudo bench/run-peers.sh            # everything: install peers if missing, build, run, write bench/compare.md
#   bench/run-peers.sh install|build   # only install the peers, or only build
#   bench/run-peers.sh report DIR      # only rewrite bench/compare.md (and README.md's goals table) from a results folder
#
# What it does, in order:
#   1. installs the peers if missing (Debian: ejabberd, prosody, mosquitto, mosquitto-clients; PyPI venvs:
#      slixmpp/matrix-nio/aiohttp/websockets in $PEERS_DIR/venv, matrix-synapse in $PEERS_DIR/venv-synapse;
#      gcc mqttfan), laying out ../shared/bench/peers in $PEERS_DIR as its README describes;
#   2. builds Parley in release from the committed HEAD (PARLEY_SOURCE=tree: the work tree) in a separate scratch
#      path (bench/.build-release, so it never fights the debug tree's lock), a second Parley with its
#      risk-control limits lifted (see PARLEY_VARIANTS below), and parley-bench;
#   3. for each Parley variant: starts `parley serve` on a fresh SQLite data dir, creates an admin API key with
#      `parley apikey create`, runs parley-bench on every shape, stops the server by PID;
#   4. ejabberd and Prosody (xmpp_raw_bench.py), Mosquitto (mqttfan, QoS 1, 100 subscribers) and Synapse
#      (bench_synapse.sh) on the same shapes, each server stopped by PID;
#   5. writes bench/compare.md (ratios Parley / peer from this run) and the goals table at the top of bench/README.md's
#      peers section, and copies the raw results to bench/parley-bench/results/.
#
# Knobs (environment): REPS (3), PAIRS_N (4000), GROUP_N (250 per member), FANOUT_N (2000) for Parley (about a
# second or two per repetition, like the peers' runs: shorter ones were mostly noise on a shared machine) and
# XMPP_PAIRS_N (5000), XMPP_GROUP_N (250), MQTT_FANOUT_N (10000) for the peers, IDLE_N (19000),
# RECONNECT_N (1000), PEERS_DIR (/tmp/parley-peers), PARLEY_VARIANTS ("stock relaxed"), SKIP_PEERS (unset),
# PARLEY_PORT (18080), PARLEY_SOURCE (head | tree).
#
# The "relaxed" variant is the same binary started with the risk limits lifted through its settings
# (PARLEY_RATE_LIMITS=off, PARLEY_FLOOD_DETECTION=off, PARLEY_WS_FRAMES_PER_SECOND=1000000): the gateway's
# 50 frames/s per connection, the send_message and login limits, and the flood/duplicate detector. The peers
# run with theirs lifted too (Synapse's rc_message, ejabberd's c2s shaper). bench/compare.md reports both.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${PARLEY_SHARED_BENCH:-$ROOT/../shared/bench}
export PEERS_DIR=${PEERS_DIR:-/tmp/parley-peers}
SD=$PEERS_DIR/scripts
PY=$PEERS_DIR/venv/bin/python
REPS=${REPS:-3}
# Message counts: Parley's keep a repetition of each throughput shape to a second or two, so that every shape runs
# three times in both variants within minutes; the peers keep the counts their own scripts use. Rates are per
# second either way.
PAIRS_N=${PAIRS_N:-4000}
GROUP_N=${GROUP_N:-250}
FANOUT_N=${FANOUT_N:-2000}
XMPP_PAIRS_N=${XMPP_PAIRS_N:-5000}
XMPP_GROUP_N=${XMPP_GROUP_N:-250}
MQTT_FANOUT_N=${MQTT_FANOUT_N:-10000}
IDLE_N=${IDLE_N:-19000}
RECONNECT_N=${RECONNECT_N:-1000}
PORT=${PARLEY_PORT:-18080}
VARIANTS=${PARLEY_VARIANTS:-"stock relaxed"}
SCRATCH=$ROOT/bench/.build-release
BENCH_BIN=$ROOT/bench/parley-bench/.build/release/parley-bench

log() { echo "[run-peers $(date +%H:%M:%S)] $*" >&2; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /,""); print ($12+$13)/hz}' "/proc/$1/stat" 2>/dev/null || echo nan; }

# Stops a server by PID: TERM, then KILL after 15 s.
stop_pid() {
    local pid=$1 name=$2
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || { log "$name ($pid) stopped"; return 0; }; sleep 0.1; done
    log "$name ($pid) did not stop on TERM; KILL"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

wait_port() { # PORT SECONDS
    for _ in $(seq 1 $(($2 * 10))); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# ---------------------------------------------------------------- 1. peers
install_peers() {
    [ "$(id -u)" = 0 ] || { echo "run as root (installs Debian and PyPI packages)" >&2; exit 1; }
    local missing=()
    command -v ejabberdctl >/dev/null || missing+=(ejabberd)
    command -v prosody >/dev/null || missing+=(prosody)
    command -v mosquitto >/dev/null || missing+=(mosquitto)
    command -v mosquitto_sub >/dev/null || missing+=(mosquitto-clients)
    command -v bc >/dev/null || missing+=(bc)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v curl >/dev/null || missing+=(curl)
    if [ ${#missing[@]} -gt 0 ]; then
        log "apt-get install ${missing[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || exit 1
    fi
    mkdir -p "$SD" "$PEERS_DIR/results"
    if [ ! -x "$PY" ] || ! "$PY" -c 'import slixmpp, nio, aiohttp, websockets' 2>/dev/null; then
        log "venv $PEERS_DIR/venv (slixmpp matrix-nio aiohttp websockets)"
        python3 -m venv "$PEERS_DIR/venv" && "$PEERS_DIR/venv/bin/pip" install -q slixmpp matrix-nio aiohttp websockets || exit 1
    fi
    if [ ! -x "$PEERS_DIR/venv-synapse/bin/python" ] || ! "$PEERS_DIR/venv-synapse/bin/python" -c 'import synapse' 2>/dev/null; then
        log "venv $PEERS_DIR/venv-synapse (matrix-synapse)"
        python3 -m venv "$PEERS_DIR/venv-synapse" && "$PEERS_DIR/venv-synapse/bin/pip" install -q matrix-synapse psycopg2-binary || exit 1
    fi
    # The peers' scripts and configs, laid out where they expect them.
    cp -f "$SHARED"/peers/*.sh "$SHARED"/peers/*.py "$SHARED"/peers/mqttfan.c "$SD"/ && chmod u+w,+x "$SD"/*.sh
    for f in mosquitto/mosquitto.conf prosody/prosody.cfg.lua ejabberd/ejabberd.yml ejabberd/ejabberdctl.cfg; do
        mkdir -p "$PEERS_DIR/$(dirname $f)"
        sed "s#@PEERS_DIR@#$PEERS_DIR#g" "$SHARED/peers/configs/$(basename $f)" > "$PEERS_DIR/$f"
    done
    mkdir -p "$PEERS_DIR/prosody/data" "$PEERS_DIR/ejabberd/spool" "$PEERS_DIR/ejabberd/logs"
    [ -x "$SD/mqttfan" ] && [ "$SD/mqttfan" -nt "$SD/mqttfan.c" ] || gcc -O2 -o "$SD/mqttfan" "$SD/mqttfan.c" || exit 1
}

# ---------------------------------------------------------------- 2. builds
# Lays out the sources to build: the committed HEAD (default; other people's uncommitted edits in the tree do not
# leak into the figures) or, with PARLEY_SOURCE=tree, the work tree as it is.
export_sources() {
    local dest=$1
    rm -rf "$dest" && mkdir -p "$dest"
    if [ "${PARLEY_SOURCE:-head}" = tree ]; then
        cp -a "$ROOT/Package.swift" "$ROOT/Sources" "$ROOT/Tests" "$dest/"
        mkdir -p "$dest/bench" && cp -a "$ROOT/bench/analytics" "$ROOT/bench/filter" "$ROOT/bench/ingest" "$dest/bench/" 2>/dev/null
    else
        (cd "$ROOT" && git archive HEAD Package.swift Sources Tests bench) | tar -x -C "$dest" || return 1
    fi
    [ -f "$ROOT/Package.resolved" ] && cp -a "$ROOT/Package.resolved" "$dest/"
    return 0
}

# Builds one variant into $PEERS_DIR/bin/parley-VARIANT, unless that binary was already built from the same commit.
# Both variants use the same scratch path: the dependencies are built once there, and only Parley's own modules
# recompile when the variant changes.
build_variant() {
    local variant=$1 src=$PEERS_DIR/parley-src-$1 stamp
    stamp="$(cd "$ROOT" && git rev-parse HEAD) $variant"
    if [ "${PARLEY_SOURCE:-head}" = head ] && [ -x "$PEERS_DIR/bin/parley-$variant" ] &&
        [ "$(cat "$PEERS_DIR/bin/parley-$variant.stamp" 2>/dev/null)" = "$stamp" ]; then
        log "parley-$variant is already built from this commit"
        return 0
    fi
    export_sources "$src" || return 1
    log "building parley-$variant (release, ${PARLEY_SOURCE:-head}, scratch $SCRATCH; about 11 minutes the first time)"
    rm -f "$SCRATCH/release/parley"
    (cd "$src" && swift build -c release --product parley --scratch-path "$SCRATCH" 2>&1 | tail -3)
    [ -x "$SCRATCH/release/parley" ] || { log "the parley-$variant build failed"; return 1; }
    cp -f "$SCRATCH/release/parley" "$PEERS_DIR/bin/parley-$variant"
    if [ "${PARLEY_SOURCE:-head}" = head ]; then echo "$stamp" > "$PEERS_DIR/bin/parley-$variant.stamp"
    else rm -f "$PEERS_DIR/bin/parley-$variant.stamp"; fi
}

build_all() {
    mkdir -p "$PEERS_DIR/bin"
    build_variant stock || exit 1
    if [ "${PARLEY_SOURCE:-head}" = tree ]; then echo "work tree at $(cd "$ROOT" && git rev-parse --short HEAD)"
    else echo "HEAD $(cd "$ROOT" && git log -1 --format='%h %cs')"; fi > "$PEERS_DIR/bin/parley-stock.rev"
    log "building parley-bench (release)"
    (cd "$ROOT" && swift build -c release --package-path bench/parley-bench 2>&1 | tail -3) || exit 1
}

# ---------------------------------------------------------------- 3. Parley
run_parley_variant() {
    local variant=$1 out=$2
    local bin=$PEERS_DIR/bin/parley-stock data=$PEERS_DIR/parley-$variant-data
    local limits=()
    [ "$variant" = relaxed ] && limits=(PARLEY_RATE_LIMITS=off PARLEY_FLOOD_DETECTION=off PARLEY_WS_FRAMES_PER_SECOND=1000000)
    rm -rf "$data"
    # Another server on the port (a previous run's, a developer's) would answer parley-bench with its own keys.
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then log "port $PORT is already in use; stop what listens there"; return 1; fi
    local key
    key=$("$bin" apikey create --scope admin --name bench --data-dir "$data" 2>/dev/null | tail -1)
    [[ "$key" == prly_* ]] || { log "could not create an API key for $variant"; return 1; }
    (ulimit -n 20000; exec env "${limits[@]}" PARLEY_HOST=127.0.0.1 PARLEY_PORT=$PORT PARLEY_DATA_DIR=$data PARLEY_LOG_LEVEL=warning "$bin" serve) \
        > "$out/parley-$variant.log" 2>&1 &
    local pid=$!
    wait_port "$PORT" 30 || { log "parley $variant did not start"; tail -5 "$out/parley-$variant.log"; stop_pid $pid parley; return 1; }
    log "parley $variant up (pid $pid, port $PORT, data $data)"
    local json=$out/parley-$variant.jsonl
    pb() { # SHAPE TIMEOUT SUBCOMMAND ARGS...
        local shape=$1 limit=$2; shift 2
        echo "# $variant $shape loadavg=$(loadavg)" >> "$out/parley-$variant.txt"
        timeout "$limit" "$BENCH_BIN" "$@" --url "http://127.0.0.1:$PORT" --api-key "$key" --server-pid "$pid" \
            --label "$variant $shape" --json-out "$json" >> "$out/parley-$variant.txt" 2>> "$out/parley-$variant.err" ||
            log "parley-bench $variant $shape failed (exit $?; see $out/parley-$variant.err)"
        kill -0 "$pid" 2>/dev/null || { log "parley $variant died during $shape"; return 1; }
    }
    for r in $(seq "$REPS"); do
        log "parley $variant rep $r: pairs, group, group-1-sender, fanout"
        pb pairs10 200 pairs --pairs 10 --messages "$PAIRS_N" --window 200 --timeout 150 || break
        pb group20 200 group --members 20 --messages "$GROUP_N" --window 20 --timeout 150 || break
        pb group20-1sender 200 group --members 20 --senders 1 --messages 2000 --window 200 --timeout 150 || break
        pb fanout100 200 fanout --receivers 100 --messages "$FANOUT_N" --window 100 --timeout 150 || break
        pb synapse-dm 100 pairs --pairs 1 --messages 200 --window 1 --timeout 60 || break
        pb synapse-group 100 group --members 10 --messages 50 --window 1 --timeout 60 || break
    done
    log "parley $variant: paced, reconnect, idle"
    pb paced200 120 paced --pairs 100 --rate 200 --duration 19 --timeout 60
    pb reconnect 180 reconnect --clients "$RECONNECT_N" --groups 10 --rate 2 --timeout 90
    pb idle 600 idle --connections "$IDLE_N" --hold 5 --connect-concurrency 256 --timeout 300
    stop_pid "$pid" "parley $variant"
}

# ---------------------------------------------------------------- 4. peers
xmpp_suite() { # NAME PID OUT
    local name=$1 spid=$2 out=$3
    local raw="timeout 100 $PY $SD/xmpp_raw_bench.py --server-pid $spid --timeout 60"
    $raw --mode chat -p 10 -m 1 --register > /dev/null 2>&1   # users bench0..bench19 (in-band registration)
    for r in $(seq "$REPS"); do
        log "$name rep $r"
        echo "pairs10 $($raw --mode chat -p 10 -m "$XMPP_PAIRS_N" --window 200 2>&1 | tail -1) loadavg=$(loadavg)" >> "$out"
        echo "group20 $($raw --mode muc -k 20 -s 20 -m "$XMPP_GROUP_N" --window 20 2>&1 | tail -1) loadavg=$(loadavg)" >> "$out"
        echo "group20-1sender $($raw --mode muc -k 20 -s 1 -m 2000 --window 200 2>&1 | tail -1) loadavg=$(loadavg)" >> "$out"
    done
}

run_ejabberd() {
    local out=$1
    chown -R ejabberd:ejabberd "$PEERS_DIR/ejabberd"
    local E="ejabberdctl --config-dir $PEERS_DIR/ejabberd --ctl-config $PEERS_DIR/ejabberd/ejabberdctl.cfg --spool $PEERS_DIR/ejabberd/spool --logs $PEERS_DIR/ejabberd/logs"
    rm -f "$PEERS_DIR/ejabberd/ejabberd.pid"
    $E foreground > "$out/ejabberd.log" 2>&1 &
    local launcher=$!
    wait_port 5222 60 || { log "ejabberd did not start"; tail -5 "$out/ejabberd.log"; stop_pid $launcher ejabberd; return 1; }
    sleep 1
    local pid
    pid=$(cat "$PEERS_DIR/ejabberd/ejabberd.pid" 2>/dev/null || pgrep -n -f "beam.*$PEERS_DIR/ejabberd" || echo "$launcher")
    log "ejabberd up (pid $pid)"
    xmpp_suite ejabberd "$pid" "$out/ejabberd.txt"
    stop_pid "$pid" ejabberd
    stop_pid "$launcher" ejabberd-launcher
}

run_prosody() {
    local out=$1
    prosody --config "$PEERS_DIR/prosody/prosody.cfg.lua" > "$out/prosody.log" 2>&1 &
    local launcher=$!
    wait_port 5222 30 || { log "prosody did not start"; stop_pid $launcher prosody; return 1; }
    local pid
    pid=$(cat "$PEERS_DIR/prosody/prosody.pid" 2>/dev/null || echo "$launcher")
    log "prosody up (pid $pid)"
    xmpp_suite prosody "$pid" "$out/prosody.txt"
    stop_pid "$pid" prosody
    stop_pid "$launcher" prosody-launcher
}

run_mosquitto() {
    local out=$1
    mosquitto -c "$PEERS_DIR/mosquitto/mosquitto.conf" > "$out/mosquitto.log" 2>&1 &
    local pid=$!
    wait_port 1883 10 || { log "mosquitto did not start"; stop_pid $pid mosquitto; return 1; }
    log "mosquitto up (pid $pid)"
    for r in $(seq "$REPS"); do
        local c0 c1 line la
        c0=$(cpu_of $pid); la=$(loadavg)
        line=$(timeout 90 "$SD/mqttfan" -s 100 -n "$MQTT_FANOUT_N" -q 1 -T 60 2>&1 | tail -1); c1=$(cpu_of $pid)
        echo "fanout100-qos1 $line broker_cpu_s=$(echo "$c1 - $c0" | bc) loadavg=$la" >> "$out/mosquitto.txt"
    done
    c0=$(cpu_of $pid); la=$(loadavg)
    line=$(timeout 60 "$SD/mqttfan" -s 100 -n 2000 -q 1 -r 200 -T 50 2>&1 | tail -1); c1=$(cpu_of $pid)
    echo "paced200-fanout100-qos1 $line broker_cpu_s=$(echo "$c1 - $c0" | bc) loadavg=$la" >> "$out/mosquitto.txt"
    stop_pid "$pid" mosquitto
}

run_synapse() {
    local out=$1
    log "synapse (bench_synapse.sh $REPS: dm and group)"
    timeout 900 "$SD/bench_synapse.sh" "$REPS" > "$out/synapse.txt" 2> "$out/synapse.err"
    "$SD/synapse_setup.sh" stop 2>/dev/null || true
}

# ---------------------------------------------------------------- 5. report
report() {
    local out=$1
    python3 "$ROOT/bench/parley-bench/scripts/compare.py" "$out" "$ROOT/bench/compare.md" "$ROOT/bench/README.md" || return 1
    mkdir -p "$ROOT/bench/parley-bench/results"
    rm -f "$ROOT/bench/parley-bench/results/"*
    cp "$out"/*.jsonl "$out"/*.txt "$out"/meta.txt "$ROOT/bench/parley-bench/results/" 2>/dev/null
    log "wrote $ROOT/bench/compare.md and the goals table of $ROOT/bench/README.md"
}

main() {
    case "${1:-all}" in
        report) report "${2:?results folder}"; exit $? ;;
        install) install_peers; exit $? ;;
        build) build_all; exit $? ;;
        all) ;;
        *) echo "usage: $0 [all|install|build|report DIR]" >&2; exit 2 ;;
    esac
    install_peers
    build_all
    local out=$PEERS_DIR/results/run-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$out"
    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
        echo "parley: $(cat "$PEERS_DIR/bin/parley-stock.rev")"
        echo "variants: $VARIANTS"
        echo "shapes: REPS=$REPS PAIRS_N=$PAIRS_N GROUP_N=$GROUP_N FANOUT_N=$FANOUT_N XMPP_PAIRS_N=$XMPP_PAIRS_N XMPP_GROUP_N=$XMPP_GROUP_N MQTT_FANOUT_N=$MQTT_FANOUT_N IDLE_N=$IDLE_N RECONNECT_N=$RECONNECT_N"
        echo "ejabberd: $(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null)"
        echo "prosody: $(dpkg-query -W -f='${Version}' prosody 2>/dev/null)"
        echo "mosquitto: $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null)"
        echo "synapse: $("$PEERS_DIR/venv-synapse/bin/python" -c 'import synapse; print(synapse.__version__)' 2>/dev/null)"
        echo "loadavg_start: $(cat /proc/loadavg)"
    } > "$out/meta.txt"
    for variant in $VARIANTS; do run_parley_variant "$variant" "$out"; done
    if [ -z "${SKIP_PEERS:-}" ]; then
        run_ejabberd "$out"
        run_prosody "$out"
        run_mosquitto "$out"
        run_synapse "$out"
    fi
    echo "loadavg_end: $(cat /proc/loadavg)" >> "$out/meta.txt"
    report "$out"
}

main "$@"
