# Sourced by the bench scripts run by hand (callgrind.sh, pgo.sh); not run on its own.

# stop_started PID PIDFILE SCRIPT: stops the server a script started, and only that one.
# SIGTERM first, since callgrind and an instrumented build write their files at a clean
# exit; SIGKILL after 30 s. Then the peer script's own cleanup (`SCRIPT stop`), only while
# PIDFILE still names PID: another run may have started a server under the same name since.
stop_started() {
    local pid="$1" pidfile="$2" script="$3"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    if [ "$(cat "$pidfile" 2>/dev/null)" = "$pid" ]; then
        "$script" stop >/dev/null || true
    fi
}
