#!/usr/bin/env python3
"""The small-files scenario with a native client (bench/ftpload.rs, one thread per session).
`make bench` runs it against every server right after bench/small_mp.py, on the same server
process (bench/run.sh).

Why: both Python clients cost more CPU a file than the fastest servers do (measured:
0.24-0.26 ms a file plain and 2.5-3.4 ms over TLS, against 0.1-0.2 and about 0.6 for the
server), so on 2 cores their figures say more about the client than the server. ftpload does
the same transfers (PASV, STOR/RETR, TLS resuming the control connection's session,
close_notify both ways) at 0.07-0.10 ms a file plain and 0.29-0.34 over TLS 1.3. The figure goes
beside the harness's (scenario `small-files-native`), never instead of it. Each session moves
400 files up, then the same 400 down; the first run creates the files, later runs
overwrite them (as in the harness's repetitions), and the last deletes them.

usage: small_native.py --port P --pid PID --label NAME --tls none|explicit --cafile CERT
                       --repeat N --out FILE [--tls-version 1.3|1.2] [--sessions 8]
                       [--files 400] [--size 4096] [--ftpload target/release/examples/ftpload]
The client reports its own CPU time for the timed part (the run's client_cpu_s).
"""
import signal
import sys
import time

from benchclient import FTPLOAD, options, record, run_ftpload


# TIME_WAIT: ftpload leaves one socket in it per file for 60 s, and pure-ftpd then fails
# PASV ("425 Unable to identify the local data socket: Address already in use") once
# enough of its passive ports hold one (ProFTPD too, less often). Each server's first run
# starts from a quiet machine (the later ones add their own; waiting before each would
# take minutes); a run that fails so is made again once, after waiting again.
QUIET_TIME_WAIT, QUIET_MAX_S = 500, 70


def time_wait_sockets():
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                n += sum(1 for line in f if line.split()[3:4] == ["06"])
        except OSError:
            pass
    return n


def wait_quiet():
    """Waits (at most QUIET_MAX_S) for the sockets earlier runs left in TIME_WAIT to go;
    returns the seconds waited."""
    t0 = time.monotonic()
    while time_wait_sockets() > QUIET_TIME_WAIT and time.monotonic() - t0 < QUIET_MAX_S:
        time.sleep(2)
    return round(time.monotonic() - t0, 1)


# The client's work (also bench/small_rounds.py's): sessions, files each, bytes a file.
SESSIONS, FILES, SIZE = 8, 400, 4096


def again_if_refused(go):
    """go() -> (run, error), made again once, after waiting for quiet, when the server
    could not bind a passive port (sockets in TIME_WAIT, above). The run made again
    records the first error and the wait."""
    run, error = go()
    if error and "already in use" in error:
        waited = wait_quiet()
        run, again = go()
        if run:
            run["made_again_after"] = error
            run["waited_for_time_wait_s"] = waited
        error = again
    return run, error


def one_run(a, last):
    """One timed run of ftpload's small files. Returns (run dict, error)."""
    args = ["--sessions", str(a.sessions), "--files", str(a.files), "--size", str(a.size),
            "--dir", a.remote_dir]
    if a.tls != "none":
        args += ["--tls-version", a.tls_version]
    if last:
        args.append("--delete")  # after the timed part (bench/ftpload.rs: why not each run)
    run, error = run_ftpload(a, args)
    if run:
        run["files"] = run.pop("result")["files"]
    return run, error


def main():
    # run.sh's timeout sends SIGTERM: exit through run_ftpload's finally, which stops the
    # client.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = options(__doc__)
    ap.add_argument("--tls-version", choices=["1.3", "1.2"], default="1.3",
                    help="1.2: every data connection resumes the control connection's session")
    ap.add_argument("--sessions", type=int, default=SESSIONS)
    ap.add_argument("--files", type=int, default=FILES)
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument("--ftpload", default=FTPLOAD)
    a = ap.parse_args()
    rates, runs, error = [], [], None
    waited = wait_quiet()
    for i in range(a.repeat):
        run, error = again_if_refused(lambda: one_run(a, i == a.repeat - 1))
        if error:
            break
        rates.append(run["files"] / run["wall_s"])
        # Made again: the wait before it is in the run already.
        run.setdefault("waited_for_time_wait_s", waited)
        waited = 0
        runs.append(run)
    scenario = "small-files-native" + ("-tls12" if a.tls != "none" and a.tls_version == "1.2" else "")
    record(a, scenario, "files_per_s", rates, runs, error, sessions=a.sessions,
           files_per_session=a.files, file_bytes=a.size, client="bench/ftpload.rs, a thread per session")


if __name__ == "__main__":
    main()
