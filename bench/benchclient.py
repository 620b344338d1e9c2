"""What the bench scripts share: the shared harness's module
(../shared/bench/ftpbench.py: clients, CPU meter, stats), their common options, the
logged-in client, the native client's run (bench/ftpload.rs) and the JSON line they append.
Standard library only."""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED") or os.path.join(HERE, "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "bench"))
sys.dont_write_bytecode = True  # the shared folder is not ours to write in
import ftpbench  # noqa: E402,F401  (re-exported for the scripts)

FTPLOAD = os.path.join(HERE, "..", "target", "release", "examples", "ftpload")
# How long ftpload may take to delete its files and exit after its result (its transfers
# are bounded by itself: 600 s, then it reports a failure).
FTPLOAD_MAX_SECONDS = 300


def options(doc, one_server=True):
    """An argument parser with the options the scripts take (one_server: --port, --pid,
    --label and --repeat, for a script that measures one server)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    if one_server:
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--pid", type=int, required=True, help="the server's PID (CPU figures)")
        ap.add_argument("--label", required=True)
        ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--user", default="ftpbench")
    ap.add_argument("--password", default="ftpbench")
    ap.add_argument("--tls", choices=["none", "explicit"], default="none")
    ap.add_argument("--cafile")
    ap.add_argument("--remote-dir", default="/ftpbench")
    ap.add_argument("--out", required=True, help="JSON lines are appended here")
    return ap


def parse_servers(spec):
    """The rounds scripts' --servers: LABEL:PORT:PID,... as [(label, port, pid)]."""
    servers = []
    for one in spec.split(","):
        label, port, pid = one.split(":")
        servers.append((label, int(port), int(pid)))
    return servers


def connect(a):
    """A logged-in session in binary mode; with TLS, PROT P and data connections that
    resume the control connection's session (the harness's client classes)."""
    if a.tls == "none":
        ftp = ftpbench.BenchFTP(timeout=30)
    else:
        ctx = ftpbench.make_ssl_context(argparse.Namespace(insecure=False, cafile=a.cafile))
        ftp = ftpbench.BenchFTPTLS(context=ctx, timeout=30)
    ftp.connect(a.host, a.port)
    ftp.login(a.user, a.password)
    if a.tls != "none":
        ftp.prot_p()
    ftp.voidcmd("TYPE I")
    return ftp


def record(a, scenario, metric, values, runs, error, **extra):
    """Appends one result in the harness's shape, so bench/report.py reads it alike."""
    rec = {"label": a.label, "tls": a.tls, "scenario": scenario, "ok": error is None,
           "error": error, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "metrics": {metric: ftpbench.stats(values)}, "runs": runs}
    rec.update(extra)
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print("%s %s %s: %s" % (a.label, a.tls, scenario, error or " ".join("%.0f" % v for v in values)),
          file=sys.stderr)


def run_bulk(a, kind, path, size, delete=False):
    """One `ftpload --bulk` transfer of `size` bytes (kind: retr or stor): (MB/s, run,
    None), or (None, None, error). delete: the client deletes the file after, untimed."""
    run, error = run_ftpload(a, ["--bulk", kind, "--path", path, "--bytes", str(size)] +
                             (["--delete"] if delete else []))
    if error:
        return None, None, error
    n = run.pop("result")["bytes"]
    if n != size:
        return None, None, "moved %d bytes of %d" % (n, size)
    return n / run["wall_s"] / 1e6, run, None


def run_ftpload(a, args):
    """One timed run of the native client (bench/ftpload.rs) with `args` after the
    connection's options: it logs in, says `ready`, and on our line does its transfers and
    prints its result, which is timed here with the server's CPU. Returns (run dict with
    the result under "result", error)."""
    cmd = [a.ftpload, "--host", a.host, "--port", str(a.port), "--user", a.user,
           "--password", a.password, "--tls", a.tls]
    if a.tls != "none":
        cmd += ["--cafile", a.cafile]
    p = subprocess.Popen(cmd + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    leaving = True  # set False once the result is in: then ftpload may finish its deletions
    try:
        first = p.stdout.readline().strip()
        if first != "ready":
            return None, "ftpload: %s" % (first or "exited before logging in")
        with ftpbench.CpuMeter(a.pid) as m:
            p.stdin.write("go\n")
            p.stdin.flush()
            line = p.stdout.readline()
        res = json.loads(line) if line.strip() else {"error": "ftpload: no result"}
        leaving = False
        if res.get("error"):
            return None, res["error"]
        run = dict(m.as_dict(), result=res)
        # The meter's client figure counts this process only; the client measures itself.
        run["client_cpu_s"] = res.get("client_cpu_s")
        if a.tls != "none":
            run["tls_data_conns"] = res["tls_data_conns"]
            run["tls_resumed"] = res["tls_resumed"]
        if None not in (run.get("machine_busy_cpu_s"), run.get("server_cpu_s"), run["client_cpu_s"]):
            run["other_cpu_s"] = round(run["machine_busy_cpu_s"] - run["server_cpu_s"] - run["client_cpu_s"], 3)
        return run, None
    finally:
        # The client deletes its files (if asked), then exits; bounded, then killed. Left
        # early (no result, or a SIGTERM from run.sh's timeout), it is killed at once.
        try:
            if leaving:
                p.kill()
            p.stdin.close()
            p.wait(FTPLOAD_MAX_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()
