#!/usr/bin/env bash
# Instructions a small file costs a server, counted by valgrind's callgrind: repeatable to
# about 500 instructions a file (aws-lc's start-up entropy varies a little), where timers
# on this shared VM are not (no hardware counters; files/s moves 2x between runs).
# Usage: bench/callgrind.sh [--cache-sim] ferroftpd|floor none|1.3|1.2 [FILES]
# Starts the server under callgrind twice, like a peer of the shared harness
# (bench/peers/*.sh, on ports of its own). Each time one session of the native client
# (bench/ftpload.rs) uploads and downloads FILES files of 4 KiB (default 300), so the
# files exist; then a second session does so again, the first time with no files at all.
# The difference between the two servers' totals, divided by the 2 x FILES transfers, is
# what a file costs: start-up, logins and handshakes cancel out.
# Output: one line per server start, then "instructions a file: N". --cache-sim also
# simulates the caches (callgrind --cache-sim=yes: 32 KiB L1i, as here) and prints the
# instruction cache misses a file, first level and last: as repeatable as the counts, and
# what separates two paths of about the same instructions (bench/RESULTS.md). The files
# stay in the printed directory (callgrind_annotate FILE shows where the work went).
# FERROFTPD (or SMALLFLOOR) names another build, e.g. one before a change, to compare.
# Needs: valgrind, cargo build --release --examples. Stops what it starts by PID.
set -euo pipefail
shopt -s inherit_errexit
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$REPO/../shared}"
cachesim=no
[ "${1:-}" = --cache-sim ] && { cachesim=yes; shift; }
who="${1:-}" tls="${2:-}" files="${3:-300}"
die() { echo "$0: $*" >&2; exit 1; }
case "$who" in ferroftpd|floor) ;;
    *) echo "usage: $0 [--cache-sim] ferroftpd|floor none|1.3|1.2 [FILES]" >&2; exit 2 ;; esac
case "$tls" in none) tlsargs=(--tls none) ;;
    1.3|1.2) tlsargs=(--tls explicit --cafile "$SHARED/bench/peers/tmp/cert.pem" --tls-version "$tls") ;;
    *) die "TLS must be none, 1.3 or 1.2" ;; esac
[[ "$files" =~ ^[1-9][0-9]*$ ]] || die "FILES must be a positive number"
command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"
FTPLOAD="$REPO/target/release/examples/ftpload"
[ -x "$FTPLOAD" ] || die "$FTPLOAD not built (cargo build --release --examples)"

# Ports of its own, so that a `make bench` running its servers is not in the way.
if [ "$who" = ferroftpd ]; then
    script="$REPO/bench/peers/ferroftpd.sh" var=FERROFTPD real="${FERROFTPD:-$REPO/target/release/ferroftpd}"
    export PORT=2136 PASV_START=12000 PASV_END=12999
else
    script="$REPO/bench/peers/floor.sh" var=SMALLFLOOR real="${SMALLFLOOR:-$REPO/target/release/examples/smallfloor}"
    export PORT=2137 PASV=13000-13999
fi
[ -x "$real" ] || die "$real not built (cargo build --release --examples)"

out="$(mktemp -d /tmp/callgrind.XXXXXX)"
chmod 755 "$out"
# callgrind writes its file at exit, so the server must still be allowed to then: it runs
# as the user that starts it (ferroftpd would drop to the harness's user, -u, otherwise).
cat > "$out/wrap" <<EOF
#!/usr/bin/env bash
args=(); while [ \$# -gt 0 ]; do if [ "\$1" = -u ]; then shift 2; else args+=("\$1"); shift; fi; done
FERROFTPD_RUN_AS_ROOT=1 exec valgrind --tool=callgrind --cache-sim=$cachesim --callgrind-out-file="$out/\$TAG.%p.out" "\$REAL" "\${args[@]}"
EOF
chmod +x "$out/wrap"

pid=""
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
stop() {
    [ -n "$pid" ] || return 0
    stop_started "$pid" "$SHARED/bench/peers/tmp/$who.pid" "$script"
    pid=""
}
trap stop EXIT

# One ftpload session of N files each way; fails unless every transfer succeeded.
load() {
    local port="$1" n="$2" res
    res="$(echo go | timeout 600 "$FTPLOAD" --port "$port" --user ftpbench --password ftpbench \
        "${tlsargs[@]}" --sessions 1 --files "$n" --size 4096 --dir /callgrind)"
    [[ "$res" == *'"error":null'* && "$res" == *"\"files\":$((2 * n)),"* ]] \
        || die "ftpload: $res"
}

# run TAG N: a server; a session of FILES files, then one of N; sets `total` to the
# server's instructions (and with --cache-sim, `i1` and `il` to its instruction cache
# misses, first level and last).
total="" i1="" il=""
# event NAME FILE: the total of one event (Ir, I1mr, ILmr) in a callgrind file.
event() {
    awk -v want="$1" '$1 == "events:" { for (i = 2; i <= NF; i++) col[$i] = i }
        $1 == "summary:" && (want in col) { print $col[want] }' "$2"
}
run() {
    local line port found
    line="$(env "$var=$out/wrap" REAL="$real" TAG="$1" "$script" start | grep PID=)" \
        || die "$who did not start"
    pid="$(sed -n 's/.*PID=\([0-9]*\) .*/\1/p' <<<"$line")"
    port="$(sed -n 's/.*PORT=\([0-9]*\).*/\1/p' <<<"$line")"
    [[ "$pid" =~ ^[0-9]+$ && "$port" =~ ^[0-9]+$ ]] || die "cannot read: $line"
    load "$port" "$files"
    load "$port" "$2"
    stop
    found=("$out/$1".*.out)
    [ "${#found[@]}" = 1 ] && [ -f "${found[0]}" ] || die "expected one callgrind file: ${found[*]}"
    total="$(event Ir "${found[0]}")"
    [[ "$total" =~ ^[0-9]+$ ]] || die "no total in ${found[0]}"
    echo "$who $tls, $1: $total instructions" >&2
    if [ "$cachesim" = yes ]; then
        i1="$(event I1mr "${found[0]}")" il="$(event ILmr "${found[0]}")"
        [[ "$i1" =~ ^[0-9]+$ && "$il" =~ ^[0-9]+$ ]] || die "no cache misses in ${found[0]}"
        echo "$who $tls, $1: $i1 L1i misses, $il LL instruction misses" >&2
    fi
}
run base 0
a="$total" a1="$i1" al="$il"
run more "$files"
echo "callgrind files: $out" >&2
echo "instructions a file: $(( (total - a) / (2 * files) ))"
if [ "$cachesim" = yes ]; then
    echo "L1i misses a file: $(( (i1 - a1) / (2 * files) ))"
    echo "LL instruction misses a file: $(( (il - al) / (2 * files) ))"
fi
