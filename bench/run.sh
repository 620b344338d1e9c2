#!/usr/bin/env bash
# `make bench`: ferroftpd and the peer servers side by side in one run, through the shared
# harness (../shared/bench: ftpbench.py, peers/*.sh, limit.sh), then a report with the ratio
# of ferroftpd to the best peer per goal (bench/report.py).
#
# For each server in turn, and each TLS mode (plain, explicit TLS):
#   - one freshly started server for retr-big, stor-big, small-files, logins, list-big
#     (--repeat BENCH_REPEAT);
#   - idle-conns BENCH_REPEAT times, each on a freshly started server (memory grown by
#     earlier load would otherwise be reused and show as ~0 KiB per connection);
#   - ferroftpd only: sessions-10k, 10,000 logged-in sessions held on one fresh server.
# Then, with small-files, bench/smallfloor.rs (the least a server does per small file) with
# each small-files client, plain and TLS; then every server at once (the bare server too,
# unless BENCH_FLOOR=0), taking turns round by round: small files with each small-files
# client (bench/small_rounds.py: why), and with stor-big and retr-big, STOR then RETR of
# 1 GiB with curl and the native client, the bare server among the servers as the
# transfers' floor (bench/bulk_rounds.py).
# Every server is stopped by its PID (the peer scripts' stop), however the run ends.
#
# Environment (all optional):
#   BENCH_PEERS="vsftpd pure-ftpd proftpd pyftpdlib unftp"   peers to run ("" = ferroftpd alone)
#   BENCH_SCENARIOS=retr-big,stor-big,small-files,logins,list-big,idle-conns,sessions-10k
#   BENCH_TLS="none explicit"     BENCH_REPEAT=3
#   BENCH_LIMITS=1 (0: skip limit.sh and bench/floors.py, the machine's limits)
#   BENCH_PYBULK=1 (0: skip the second client's bulk transfers, bench/bulk_py.py)
#   BENCH_MP=1 (0: skip small files with a client process per session, bench/small_mp.py,
#               in the rounds too)
#   BENCH_NATIVE=1 (0: skip the native client, bench/ftpload.rs: the 1 GiB transfers
#                   (bench/bulk_native.py) and small files (bench/small_native.py, and in
#                   the rounds, STOR's and RETR's too); needs `cargo build --release --examples`)
#   BENCH_FLOOR=1 (0: skip the bare server, bench/smallfloor.rs, alone and in the rounds,
#                  measured with every small-files client, and in the STOR and RETR rounds; needs
#                  `cargo build --release --examples`)
#   BENCH_ROUNDS=5 (rounds with the servers interleaved, 0: skip: small files with every
#                   small-files client, bench/small_rounds.py; STOR and RETR, bench/bulk_rounds.py)
#   BENCH_SERVERS="ferroftpd ..."  the whole server list, overriding the two above
#   BENCH_OPTS   extra ftpbench.py options (after the defaults, so they win)
#   SHARED=../shared   STAMP=YYYYmmdd-HHMM
# Results: bench/results/bench-STAMP.jsonl (+ limits-, floors-STAMP.json, report-STAMP.md,
# readme-STAMP.md: the README's table, bench/readme_table.py).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$(cd "${SHARED:-$REPO/../shared}" && pwd)" || { echo "bench: no shared folder" >&2; exit 1; }
export SHARED
BENCH="$SHARED/bench"
[ -f "$BENCH/ftpbench.py" ] || { echo "bench: $BENCH/ftpbench.py not found (set SHARED=...)" >&2; exit 1; }
PY="${PYTHON:-python3}"
PEERS="${BENCH_PEERS-vsftpd pure-ftpd proftpd pyftpdlib unftp}"
SERVERS="${BENCH_SERVERS:-ferroftpd $PEERS}"
SCENARIOS=",${BENCH_SCENARIOS:-retr-big,stor-big,small-files,logins,list-big,idle-conns,sessions-10k},"
TLS_MODES="${BENCH_TLS:-none explicit}"
REPEAT="${BENCH_REPEAT:-3}"
STAMP="${STAMP:-$(date -u +%Y%m%d-%H%M)}"
RESULTS="$REPO/bench/results"
mkdir -p "$RESULTS"
OUT="$RESULTS/bench-$STAMP.jsonl"
LIMITS="$RESULTS/limits-$STAMP.json"
FLOORS="$RESULTS/floors-$STAMP.json"
LOG="$RESULTS/bench-$STAMP.log"
# The peers' baseline bounds (run_peers.sh), with the repetitions from BENCH_REPEAT.
OPTS="--max-seconds 150 --big-mib 1024 --small-sessions 8 --small-files 100 --login-workers 8
      --login-count 500 --idle-conns 500,1000 --idle-hold 5 --list-entries 10000 ${BENCH_OPTS:-}"
common=(--host 127.0.0.1 --user ftpbench --password ftpbench --cafile "$BENCH/peers/tmp/cert.pem")

script_of() {   # ours (ferroftpd, and the bare server "floor") are in bench/peers
    if [ -x "$REPO/bench/peers/$1.sh" ]; then echo "$REPO/bench/peers/$1.sh"; else echo "$BENCH/peers/$1.sh"; fi
}
running=""   # the server started last, while it runs (stopped by the cleanup)
pid="" port=""
client=""   # the client running now (bounded, below), ended by the cleanup
all_up=""   # the servers started together for the rounds
cleanup() {
    [ -z "$client" ] || kill -TERM "$client" 2>/dev/null
    [ -n "$running" ] && "$(script_of "$running")" stop >&2 2>/dev/null
    running=""
    for p in $all_up; do "$(script_of "$p")" stop >&2 2>/dev/null; done
    all_up=""
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT
start() {   # NAME: starts it and sets $pid, $port and $running (the cleanup's to stop)
    local line
    running="$1"   # before: an interrupt during the start stops it too (stop is idempotent)
    line="$("$(script_of "$1")" start)" || return 1
    echo "$line" >&2
    pid="$(sed -n 's/.*PID=\([0-9]*\).*/\1/p' <<<"$line")"
    port="$(sed -n 's/.*PORT=\([0-9]*\).*/\1/p' <<<"$line")"
}
stop() { "$(script_of "$1")" stop >&2; running=""; }
start_all() {   # NAME...: starts each (start), sets $all_up and $specs (LABEL:PORT:PID,...)
    local p
    specs=""
    for p in "$@"; do
        [ -x "$(script_of "$p")" ] || continue
        all_up="$all_up $p"   # the cleanup stops it from now on, even if its start fails
        start "$p" || { skipped+=("$p rounds (start failed)"); continue; }
        running=""
        specs="$specs,$p:$port:$pid"
    done
}
# A client, bounded by `timeout`, run in the background and waited for: bash runs a trap
# only once the foreground command ends, and `timeout` puts the client in a process group
# of its own, out of reach of the terminal's Ctrl-C, so a foreground client ran on to its
# end. `wait` returns at the signal; the cleanup then ends the client (timeout passes the
# TERM on to it).
bounded() {   # LIMIT CMD...
    local rc
    timeout "$@" &
    client=$!
    wait "$client"
    rc=$?
    client=""
    return "$rc"
}
stop_all() { local p; for p in $all_up; do "$(script_of "$p")" stop >&2; done; all_up=""; }
has() { [[ "$SCENARIOS" == *",$1,"* ]]; }
bench() {   # LABEL PID PORT TLS TIMEOUT ftpbench-args...
    local label="$1" pid="$2" port="$3" tls="$4" limit="$5"; shift 5
    # shellcheck disable=SC2086
    bounded "$limit" "$PY" "$BENCH/ftpbench.py" "${common[@]}" --port "$port" --tls "$tls" \
        --pid "$pid" --label "$label" $OPTS "$@" --out "$OUT" >/dev/null
}

# The small-files clients beyond the harness's own, on a running server (LABEL PID PORT TLS):
# a process per session (bench/small_mp.py: why there), and the native client
# (bench/small_native.py: why there), over TLS in TLS 1.2 as well, where each data
# connection resumes the control connection's own session.
small_clients() {
    local label="$1" pid="$2" port="$3" tls="$4" versions=1.3 v
    if [ "${BENCH_MP:-1}" != 0 ]; then
        bounded 900 "$PY" "$REPO/bench/small_mp.py" --port "$port" --pid "$pid" --label "$label" \
            --tls "$tls" --cafile "$BENCH/peers/tmp/cert.pem" --repeat "$REPEAT" --out "$OUT" 2>>"$LOG"
    fi
    [ "${BENCH_NATIVE:-1}" != 0 ] || return 0
    [ "$tls" = none ] || versions="1.3 1.2"
    for v in $versions; do
        bounded 900 "$PY" "$REPO/bench/small_native.py" --port "$port" --pid "$pid" --label "$label" \
            --tls "$tls" --tls-version "$v" --cafile "$BENCH/peers/tmp/cert.pem" \
            --repeat "$REPEAT" --out "$OUT" 2>>"$LOG"
    done
}

{
echo "bench $STAMP: servers: $SERVERS; TLS: $TLS_MODES; repeat $REPEAT; scenarios ${SCENARIOS//,/ }"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$LOG" >&2

if [ "${BENCH_LIMITS:-1}" != 0 ]; then
    "$BENCH/limit.sh" | tee "$RESULTS/limits-$STAMP.txt" >&2
    tail -n 1 "$RESULTS/limits-$STAMP.txt" > "$LIMITS"
    # The 1 GiB transfers with no FTP server (bench/floors.py: why there). The TLS ones
    # need the harness's certificate, which a peer script otherwise makes on its first
    # start: on a fresh machine that is after this.
    (. "$BENCH/peers/common.sh" && ensure_cert) \
        || echo "bench: cannot make $BENCH/peers/tmp/cert.pem (openssl?)" | tee -a "$LOG" >&2
    bounded 900 "$PY" "$REPO/bench/floors.py" --cert "$BENCH/peers/tmp/cert.pem" \
        --key "$BENCH/peers/tmp/key.pem" --out "$FLOORS" > >(tee -a "$LOG" >&2) 2>&1
fi

main=""
for s in retr-big stor-big small-files logins list-big; do has "$s" && main="$main,$s"; done
main="${main#,}"
skipped=()
for p in $SERVERS; do
    sc="$(script_of "$p")"
    if [ ! -x "$sc" ]; then skipped+=("$p (no script)"); continue; fi
    "$sc" stop >/dev/null 2>&1 || true
    echo "=== $p $(date -u +%H:%M:%S)" | tee -a "$LOG" >&2
    if ! "$sc" install >>"$LOG" 2>&1; then
        echo "$p: install failed (see $LOG); continuing without it" | tee -a "$LOG" >&2
        skipped+=("$p (install failed)")
        continue
    fi
    for tls in $TLS_MODES; do
        if [ -n "$main" ]; then
            start "$p" || { skipped+=("$p $tls (start failed)"); continue; }
            bench "$p" "$pid" "$port" "$tls" 1500 --scenario "$main" --repeat "$REPEAT" 2>>"$LOG"
            # The same bulk transfers with a second client (bench/bulk_py.py: why there).
            if has retr-big && [ "${BENCH_PYBULK:-1}" != 0 ]; then
                bounded 900 "$PY" "$REPO/bench/bulk_py.py" --port "$port" --pid "$pid" --label "$p" \
                    --tls "$tls" --cafile "$BENCH/peers/tmp/cert.pem" --repeat "$REPEAT" \
                    --out "$OUT" 2>>"$LOG"
            fi
            # And with the native client (bench/bulk_native.py: why there).
            if has retr-big && [ "${BENCH_NATIVE:-1}" != 0 ]; then
                bounded 900 "$PY" "$REPO/bench/bulk_native.py" --port "$port" --pid "$pid" --label "$p" \
                    --tls "$tls" --cafile "$BENCH/peers/tmp/cert.pem" --repeat "$REPEAT" \
                    --out "$OUT" 2>>"$LOG"
            fi
            has small-files && small_clients "$p" "$pid" "$port" "$tls"
            stop "$p"
        fi
        # Issue 5's benchmark: logins without the password cache (the user's hash checked at
        # every login), beside the figure with it.
        if has logins && [ "$p" = ferroftpd ] && [ "$tls" = none ]; then
            FERROFTPD_PASSWORD_CACHING=false start "$p" || { skipped+=("$p nocache (start failed)"); continue; }
            bench "$p-nocache" "$pid" "$port" "$tls" 600 --scenario logins --repeat "$REPEAT" 2>>"$LOG"
            stop "$p"
        fi
        if has idle-conns; then
            for _ in $(seq 1 "$REPEAT"); do
                start "$p" || { skipped+=("$p $tls idle (start failed)"); break; }
                bench "$p" "$pid" "$port" "$tls" 600 --scenario idle-conns --repeat 1 2>>"$LOG"
                stop "$p"
            done
        fi
        if has sessions-10k && [ "$p" = ferroftpd ]; then
            start "$p" || { skipped+=("$p $tls 10k (start failed)"); continue; }
            bench "$p" "$pid" "$port" "$tls" 600 --scenario idle-conns --repeat 1 \
                --idle-conns 10000 --idle-hold 10 --max-seconds 400 2>>"$LOG"
            stop "$p"
        fi
    done
done
# Small files against a server that does only what FTP requires (bench/smallfloor.rs), with
# every small-files client: the most any server reaches with that client here. After the
# servers: its files, deleted at its end, would slow the next server's creations.
if has small-files && [ "${BENCH_FLOOR:-1}" != 0 ]; then
    echo "=== the bare small-files server $(date -u +%H:%M:%S)" | tee -a "$LOG" >&2
    "$(script_of floor)" stop >/dev/null 2>&1 || true   # one left by an interrupted run
    for tls in $TLS_MODES; do
        start floor || { skipped+=("floor $tls (start failed)"); continue; }
        bench floor "$pid" "$port" "$tls" 600 --scenario small-files --repeat "$REPEAT" 2>>"$LOG"
        small_clients floor "$pid" "$port" "$tls"
        stop floor
    done
fi
# Small files with every server running and the servers taking turns, the bare server among
# them (bench/small_rounds.py: why).
if has small-files && [ "${BENCH_ROUNDS:-5}" != 0 ]; then
    echo "=== small-files rounds, every server at once $(date -u +%H:%M:%S)" | tee -a "$LOG" >&2
    names="$SERVERS" clients="harness"
    [ "${BENCH_FLOOR:-1}" = 0 ] || names="$names floor"
    [ "${BENCH_MP:-1}" = 0 ] || clients="$clients,mp"
    [ "${BENCH_NATIVE:-1}" = 0 ] || clients="$clients,native,native12"
    # shellcheck disable=SC2086
    start_all $names
    for tls in $TLS_MODES; do
        [ -n "$specs" ] || break
        bounded 3600 "$PY" "$REPO/bench/small_rounds.py" --servers "${specs#,}" --tls "$tls" \
            --cafile "$BENCH/peers/tmp/cert.pem" --rounds "${BENCH_ROUNDS:-5}" --clients "$clients" \
            --harness-opts "$OPTS" --out "$OUT" 2>>"$LOG"
    done
    stop_all
fi
# The 1 GiB transfers likewise, uploads then downloads (bench/bulk_rounds.py: why).
for kind in stor retr; do
    has "$kind-big" && [ "${BENCH_ROUNDS:-5}" != 0 ] || continue
    echo "=== ${kind^^} rounds, every server at once $(date -u +%H:%M:%S)" | tee -a "$LOG" >&2
    names="$SERVERS" clients="curl"
    [ "${BENCH_FLOOR:-1}" = 0 ] || names="$names floor"
    [ "${BENCH_NATIVE:-1}" = 0 ] || clients="$clients,native"
    # shellcheck disable=SC2086
    start_all $names
    for tls in $TLS_MODES; do
        [ -n "$specs" ] || break
        bounded 2700 "$PY" "$REPO/bench/bulk_rounds.py" --kind "$kind" --servers "${specs#,}" --tls "$tls" \
            --cafile "$BENCH/peers/tmp/cert.pem" --rounds "${BENCH_ROUNDS:-5}" --clients "$clients" \
            --out "$OUT" 2>>"$LOG"
    done
    stop_all
done
[ ${#skipped[@]} -eq 0 ] || echo "skipped: ${skipped[*]}" | tee -a "$LOG" >&2
REPORT="$RESULTS/report-$STAMP.md"
args=("$OUT")
[ -s "$LIMITS" ] && args+=("$LIMITS")
[ -s "$FLOORS" ] && args+=("$FLOORS")
"$PY" "$REPO/bench/report.py" --log "$LOG" "${args[@]}" > "$REPORT"
cat "$REPORT"
# The README's "Last full run" table, made from the report.
README_TABLE="$RESULTS/readme-$STAMP.md"
"$PY" "$REPO/bench/readme_table.py" "$REPORT" > "$README_TABLE"
echo "results: $OUT; report: $REPORT; README table: $README_TABLE" >&2
