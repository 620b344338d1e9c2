#!/usr/bin/env bash
# ferroftpd as a peer of the shared harness (../shared/bench).  Usage: ferroftpd.sh install|start|stop
# Model: thread per connection, blocking I/O; plain RETR uses sendfile(2); TLS through rustls.
# Follows ../shared/bench/peers/common.sh: start_bg (own session, PID file, cpuacct cgroup,
# waits for the port), user ftpbench / ftpbench with the peers' SHA-512-crypt hash, the
# shared certificate, a passive port range of its own.  Started as root, it drops to the
# ftpbench user (-u), as the C peers do.
# SHARED (default: ../shared next to this repo) locates the harness; FERROFTPD the binary.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHARED="${SHARED:-$REPO/../shared}"
. "$SHARED/bench/peers/common.sh"
NAME=ferroftpd
PORT="${PORT:-2126}"
# Below the ephemeral ports (32768-60999): the clients' own sockets there made 1 passive
# bind in 6 fail. The peers use 20000-29999.
PASV_START="${PASV_START:-18000}"
PASV_END="${PASV_END:-19999}"
FERROFTPD="${FERROFTPD:-$REPO/target/release/ferroftpd}"

install() {
    if [ ! -x "$FERROFTPD" ]; then
        (cd "$REPO" && cargo build --release -j2 >&2)
    fi
}

start() {
    install
    ensure_cert; ensure_user
    local data conf users dir
    data="$(make_datadir "$NAME")"
    dir="$TMP_DIR/$NAME"
    mkdir -p "$dir"
    conf="$dir/ferroftpd.json"
    users="$dir/users.json"
    # The daemon drops to ftpbench after loading: the key must be readable before that
    # only (it is read as root), the users file too.
    cat > "$users" <<JSON
{"users": [{"username": "$FTP_USER", "password": "$(sha512_hash)", "status": 1,
            "home_dir": "$data", "permissions": {"/": ["*"]}}]}
JSON
    # idle_timeout in minutes (10 = the peers' 600 s); no connection caps (the peers raise
    # theirs to 10,000); password_caching is on by default, as in SFTPGo
    # (FERROFTPD_PASSWORD_CACHING=false: off, for the logins figure without it).
    cat > "$conf" <<JSON
{
  "common": {"idle_timeout": 10, "max_total_connections": 0, "max_per_host_connections": 0},
  "ftpd": {
    "bindings": [{"address": "$BIND_HOST", "port": $PORT, "tls_mode": 0}],
    "passive_port_range": {"start": $PASV_START, "end": $PASV_END},
    "certificate_file": "$TMP_DIR/cert.pem",
    "certificate_key_file": "$TMP_DIR/key.pem"
  },
  "data_provider": {"driver": "memory", "name": "users.json",
                    "password_caching": ${FERROFTPD_PASSWORD_CACHING:-true}}
}
JSON
    chmod 600 "$users"
    local as=(-u "$FTP_USER")
    [ "$(id -u)" -eq 0 ] || as=()
    export RUST_LOG="${RUST_LOG:-warn}"
    start_bg "$NAME" "$PORT" "$FERROFTPD" --config "$conf" "${as[@]}"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop_peer "$NAME" ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
