#!/usr/bin/env python3
"""Small files, the servers interleaved round by round: every server runs at once (each
on its own port, the bare server bench/smallfloor.rs among them), and each round runs
each small-files client once against each server, starting with a different server every
round. `make bench` runs it after the per-server scenarios (bench/run.sh), in both TLS
modes.

Why: a small-files run lasts 0.2-4 s, and on this machine the client's own CPU a file
swings 3x from one moment to the next whatever the server (the harness's threads:
0.14-0.63 ms a file in one run, the bare server included). Taken server after server, the
figures compare moments as much as servers; and the bare server, run after every server,
met the sockets and the churn they left. Interleaved, every server and the bare server go
through the same moments. One untimed round goes first: it makes the folders and the
files, which the timed rounds overwrite, as the clients' own repetitions do; nothing is
deleted until the servers stop (their scripts remove their folders). The figures go
beside the per-server ones (scenarios `small-files-rounds`, `small-files-mp-rounds`,
`small-files-native-rounds`, `small-files-native-tls12-rounds`), never instead of them.

The clients (--clients), each one run a turn:
  harness   the shared harness's own client (ftpbench.py --scenario small-files, with
            --harness-opts, as run.sh gives it): one Python process, a thread per session;
  mp        bench/small_mp.py: a Python process per session;
  native    bench/small_native.py's client (bench/ftpload.rs), a thread per session;
  native12  the same in TLS 1.2 (with TLS only): data connections resume the control's
            session.

usage: small_rounds.py --servers LABEL:PORT:PID[,...] --tls none|explicit --cafile CERT
                       --rounds N --out FILE [--clients harness,mp,native,native12]
                       [--harness-opts "ftpbench.py options"]
A run that fails because a server could not bind a passive port (sockets in TIME_WAIT:
bench/small_native.py) is made again once the machine is quiet, and the record says so.
Standard library only, plus the shared harness's ftpbench.py.
"""
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import small_native
from benchclient import FTPLOAD, HERE, SHARED, options, parse_servers, record

# A Python client's run is bounded: killed after this, it counts as failed. The native
# client bounds itself (bench/ftpload.rs: 600 s, then benchclient's 300 s to exit).
MAX_SECONDS = 300
SCENARIOS = {"harness": "small-files-rounds", "mp": "small-files-mp-rounds",
             "native": "small-files-native-rounds", "native12": "small-files-native-tls12-rounds"}
CLIENTS = {"harness": "ftpbench.py --scenario small-files (a thread per session), one run a turn",
           "mp": "bench/small_mp.py (a process per session), one run a turn",
           "native": "bench/ftpload.rs, a thread per session, one run a turn",
           "native12": "bench/ftpload.rs in TLS 1.2, a thread per session, one run a turn"}


def script_run(a, client, label, port, pid):
    """One run of a Python client, as a child writing its record to a scratch file.
    Returns (run dict, error)."""
    if client == "harness":
        cmd = [sys.executable, os.path.join(SHARED, "bench", "ftpbench.py")] + shlex.split(a.harness_opts)
        cmd += ["--scenario", "small-files"]
    else:
        cmd = [sys.executable, os.path.join(HERE, "small_mp.py"), "--keep-files"]
    cmd += ["--host", a.host, "--user", a.user, "--password", a.password, "--remote-dir", a.remote_dir]
    if a.cafile:
        cmd += ["--cafile", a.cafile]
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
        cmd += ["--port", str(port), "--pid", str(pid), "--label", label, "--tls", a.tls,
                "--repeat", "1", "--out", out.name]
        try:
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               timeout=MAX_SECONDS)
        except subprocess.TimeoutExpired:
            return None, "no result within %d s" % MAX_SECONDS
        lines = out.read().splitlines()
    if not lines:
        return None, "%s exited %d: %s" % (client, p.returncode, p.stderr.strip()[-200:])
    rec = json.loads(lines[-1])
    runs = rec.get("runs") or []
    err = rec.get("error") or next((r.get("first_error") for r in runs if r.get("errors")), None)
    if not rec.get("ok", True) or err or not runs:
        return None, err or "no run"
    return runs[0], None


def one(a, client, label, port, pid):
    """One run of `client` against one server, made again once after a passive port was
    refused. Returns (run, error)."""
    def go():
        if client in ("harness", "mp"):
            return script_run(a, client, label, port, pid)
        a.port, a.pid = port, pid
        a.tls_version = "1.2" if client == "native12" else "1.3"
        # Never the last run: the files stay for the next round (and the other client).
        return small_native.one_run(a, False)
    try:
        return small_native.again_if_refused(go)
    except Exception as e:  # noqa: BLE001 - a client that could not run fails this pair only
        return None, repr(e)


def main():
    # run.sh's timeout sends SIGTERM: unwind, so a native client is stopped and what was
    # measured is still written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = options(__doc__, one_server=False)
    ap.add_argument("--servers", required=True, help="LABEL:PORT:PID, comma separated")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", default="harness,mp,native,native12")
    ap.add_argument("--harness-opts", default="", help="options for ftpbench.py, before ours")
    a = ap.parse_args()
    a.sessions, a.files, a.size = small_native.SESSIONS, small_native.FILES, small_native.SIZE
    a.ftpload = FTPLOAD
    servers = parse_servers(a.servers)
    clients = [c for c in a.clients.split(",") if c in SCENARIOS and (c != "native12" or a.tls != "none")]
    if not servers or not clients:
        sys.exit("small_rounds: no servers or no clients")
    got = {(c, label): ([], [], None) for c in clients for label, _, _ in servers}
    rnd, finished = 0, False
    try:
        small_native.wait_quiet()
        # Round 0 is not timed: it makes the files the timed rounds overwrite. Each server
        # goes first in turn, from the first.
        for rnd in range(a.rounds + 1):
            k = (rnd - 1) % len(servers)
            for client in clients:
                for pos, (label, port, pid) in enumerate(servers[k:] + servers[:k]):
                    rates, runs, error = got[(client, label)]
                    if error:
                        continue
                    run, error = one(a, client, label, port, pid)
                    if error:
                        got[(client, label)] = (rates, runs, "round %d: %s" % (rnd, error[:300]))
                        continue
                    if rnd == 0:
                        continue
                    files = run.get("files") or run.get("uploads", 0) + run.get("downloads", 0)
                    rates.append(files / run["wall_s"])
                    runs.append(dict(run, files=files, round=rnd, position=pos + 1,
                                     at=time.strftime("%H:%M:%S", time.gmtime())))
        finished = True
    finally:
        for client in clients:
            for label, _, _ in servers:
                rates, runs, error = got[(client, label)]
                if not finished and not error:
                    error = "stopped in round %d of %d" % (rnd, a.rounds)
                a.label = label
                record(a, SCENARIOS[client], "files_per_s", rates, runs, error, client=CLIENTS[client])


if __name__ == "__main__":
    main()
