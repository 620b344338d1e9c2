#!/usr/bin/env bash
# A profile-guided build of ferroftpd: target/pgo/ferroftpd.
# Why: with caches simulated (callgrind --cache-sim=yes), ferroftpd's path for a small
# file missed the 32 KiB instruction cache about 800 times a plain file, where the bare
# server's path fits in it; built with a profile, the same code missed 26-29% less, ran
# 6-15% fewer instructions, and used 14% less server CPU a file over TLS 1.2 (4% plain)
# in rounds against the release build (bench/RESULTS.md, change 14).
# Steps: an instrumented build (target/pgo-gen); that build serves, as a peer of the
# shared harness (bench/peers/ferroftpd.sh, on ports of its own), a bounded training load
# of the native client (bench/ftpload.rs): small files plain, over TLS 1.2 and over TLS
# 1.3, and 64 MiB up and down, plain and over TLS; the profile is merged
# (llvm-profdata); the build using it goes to target/pgo/ferroftpd.
# Use it as any build: FERROFTPD=target/pgo/ferroftpd make bench (or bench/callgrind.sh).
# Needs: rustup's llvm-tools (rustup component add llvm-tools), the shared harness
# (SHARED, default ../shared) for the peer script. Stops what it starts by PID.
set -euo pipefail
shopt -s inherit_errexit
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$REPO/../shared}"
CARGO="${CARGO:-cargo}"
die() { echo "$0: $*" >&2; exit 1; }
cd "$REPO"

host="$(rustc -vV | sed -n 's/^host: //p')"
sysroot="$(rustc --print sysroot)"
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
[ -x "$profdata" ] || die "$profdata is missing: rustup component add llvm-tools"

# --target: RUSTFLAGS then reach ferroftpd and its crates, not the build scripts, which
# would otherwise write profiles of their own.
raw="$(mktemp -d /tmp/ferroftpd-pgo.XXXXXX)"
# The server drops to the harness's user when started as root: it writes the profile.
chmod 1777 "$raw"
pid=""
# shellcheck source=bench/lib.sh
. bench/lib.sh
stop() {
    [ -n "$pid" ] || return 0
    stop_started "$pid" "$SHARED/bench/peers/tmp/ferroftpd.pid" bench/peers/ferroftpd.sh
    pid=""
}
trap 'stop; rm -rf "$raw"' EXIT

echo "pgo: instrumented build (target/pgo-gen)" >&2
CARGO_TARGET_DIR=target/pgo-gen RUSTFLAGS="-Cprofile-generate=$raw" \
    "$CARGO" build --release --target "$host" --bin ferroftpd
"$CARGO" build --release --example ftpload
FTPLOAD=target/release/examples/ftpload

export PORT=2138 PASV_START=11000 PASV_END=11999
line="$(FERROFTPD="$REPO/target/pgo-gen/$host/release/ferroftpd" bench/peers/ferroftpd.sh start \
    | grep PID=)" || die "the instrumented build did not start"
pid="$(sed -n 's/.*PID=\([0-9]*\) .*/\1/p' <<<"$line")"
[[ "$pid" =~ ^[0-9]+$ ]] || die "cannot read: $line"

tls=(--tls explicit --cafile "$SHARED/bench/peers/tmp/cert.pem")
# One run of the client; fails unless it reports no error.
load() {
    local res
    res="$(echo go | timeout 600 "$FTPLOAD" --port "$PORT" --user ftpbench --password ftpbench "$@")"
    [[ "$res" == *'"error":null'* ]] || die "ftpload $*: $res"
}
echo "pgo: training load" >&2
small=(--sessions 4 --files 300 --size 4096 --dir /pgo)
load --tls none "${small[@]}"
load "${tls[@]}" --tls-version 1.2 "${small[@]}"
load "${tls[@]}" --tls-version 1.3 "${small[@]}"
for t in none tls; do
    if [ "$t" = none ]; then mode=(--tls none); else mode=("${tls[@]}"); fi
    load "${mode[@]}" --sessions 1 --bulk stor --path /pgo.bin --bytes 67108864
    load "${mode[@]}" --sessions 1 --bulk retr --path /pgo.bin --bytes 67108864
done
stop

found=("$raw"/*.profraw)
[ -f "${found[0]}" ] || die "no profile written in $raw"
"$profdata" merge -o "$raw/merged.profdata" "${found[@]}"

echo "pgo: optimized build (target/pgo)" >&2
CARGO_TARGET_DIR=target/pgo RUSTFLAGS="-Cprofile-use=$raw/merged.profdata" \
    "$CARGO" build --release --target "$host" --bin ferroftpd
cp "target/pgo/$host/release/ferroftpd" target/pgo/ferroftpd
echo "pgo: target/pgo/ferroftpd"
