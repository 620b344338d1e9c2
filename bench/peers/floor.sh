#!/usr/bin/env bash
# The bare small-files server (bench/smallfloor.rs: why) started like a peer of the shared
# harness (../shared/bench/peers/common.sh: own session, PID file, waits for the port), so
# the small-files clients of `make bench` can be run against it as against any server.
# Plain and explicit TLS on one port, with the shared certificate. Not a server anyone
# runs: it checks no password and serves its directory to anyone on loopback.
# Usage: floor.sh start|stop.  SMALLFLOOR: the binary (cargo build --release --examples).
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHARED="${SHARED:-$REPO/../shared}"
. "$SHARED/bench/peers/common.sh"
NAME=floor
PORT="${PORT:-2127}"
# Its own passive range, below the ephemeral ports (as ferroftpd.sh's, which is 18000-19999).
PASV="${PASV:-16000-17999}"
SMALLFLOOR="${SMALLFLOOR:-$REPO/target/release/examples/smallfloor}"

start() {
    [ -x "$SMALLFLOOR" ] || die "$SMALLFLOOR not built (cargo build --release --examples)"
    ensure_cert; ensure_user
    local data
    data="$(make_datadir "$NAME")"
    start_bg "$NAME" "$PORT" "$SMALLFLOOR" --port "$PORT" --root "$data" --pasv "$PASV" \
        --cert "$TMP_DIR/cert.pem" --key "$TMP_DIR/key.pem"
}

case "${1:-}" in
    start) start ;;
    stop) stop_peer "$NAME" ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
