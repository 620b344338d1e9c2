#!/usr/bin/env bash
# Instructions a small file costs a server, counted by valgrind's callgrind: exact where
# timers on this shared VM are not (no hardware counters; files/s moves 2x between runs).
# Usage: bench/callgrind.sh ferroftpd|floor none|1.3|1.2 [FILES]
# Starts the server under callgrind twice, like a peer of the shared harness
# (bench/peers/*.sh). Each time one session of the native client (bench/ftpload.rs)
# uploads and downloads FILES files of 4 KiB (default 300), untimed, so the files exist;
# the second time it does so once more. The difference between the two servers' totals,
# divided by the 2 x FILES transfers, is what a file costs, start-up and login left out.
# Output: one line per server start, then "instructions a file: N". The callgrind files
# stay in the printed directory (callgrind_annotate FILE shows where they went).
# FERROFTPD (or SMALLFLOOR) names another build, e.g. one before a change, to compare.
# Needs: valgrind, cargo build --release --examples. Stops what it starts by PID.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$REPO/../shared}"
who="${1:-}" tls="${2:-}" files="${3:-300}"
case "$who" in ferroftpd|floor) ;; *) echo "usage: $0 ferroftpd|floor none|1.3|1.2 [FILES]" >&2; exit 2 ;; esac
case "$tls" in none) tlsargs=(--tls none) ;;
    1.3|1.2) tlsargs=(--tls explicit --cafile "$SHARED/bench/peers/tmp/cert.pem" --tls-version "$tls") ;;
    *) echo "$0: TLS must be none, 1.3 or 1.2" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "$0: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
FTPLOAD="$REPO/target/release/examples/ftpload"
[ -x "$FTPLOAD" ] || { echo "$0: $FTPLOAD not built (cargo build --release --examples)" >&2; exit 1; }

out="$(mktemp -d /tmp/callgrind.XXXXXX)"
chmod 755 "$out"
# callgrind writes its file at exit, so the server must still be allowed to then: it runs
# as the user that starts it (ferroftpd would drop to the harness's user, -u, otherwise).
cat > "$out/wrap" <<EOF
#!/usr/bin/env bash
args=(); while [ \$# -gt 0 ]; do if [ "\$1" = -u ]; then shift 2; else args+=("\$1"); shift; fi; done
FERROFTPD_RUN_AS_ROOT=1 exec valgrind --tool=callgrind --callgrind-out-file="$out/\$TAG.%p.out" "\$REAL" "\${args[@]}"
EOF
chmod +x "$out/wrap"
if [ "$who" = ferroftpd ]; then
    script="$REPO/bench/peers/ferroftpd.sh" var=FERROFTPD real="${FERROFTPD:-$REPO/target/release/ferroftpd}"
else
    script="$REPO/bench/peers/floor.sh" var=SMALLFLOOR real="${SMALLFLOOR:-$REPO/target/release/examples/smallfloor}"
fi
pid=""
stop() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        # SIGTERM: both servers exit cleanly, and callgrind writes its file.
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    "$script" stop >/dev/null || true
    pid=""
}
trap stop EXIT

# run TAG EXTRA: a server, the untimed session, EXTRA more; prints its total instructions.
run() {
    local line port total
    line="$(env "$var=$out/wrap" REAL="$real" TAG="$1" "$script" start | grep PID=)"
    pid="$(sed -n 's/.*PID=\([0-9]*\) .*/\1/p' <<<"$line")"
    port="$(sed -n 's/.*PORT=\([0-9]*\).*/\1/p' <<<"$line")"
    load() {
        echo go | timeout 600 "$FTPLOAD" --port "$port" --user ftpbench --password ftpbench \
            "${tlsargs[@]}" --sessions 1 --files "$files" --size 4096 --dir /callgrind >/dev/null
    }
    load
    [ "$2" = 0 ] || load
    stop
    total="$(sed -n 's/^summary: //p' "$out/$1".*.out)"
    echo "$who $tls, $1: $total instructions" >&2
    echo "$total"
}
a="$(run base 0)"
b="$(run more 1)"
echo "callgrind files: $out" >&2
echo "instructions a file: $(( (b - a) / (2 * files) ))"
