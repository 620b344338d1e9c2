"""What bench/bulk_py.py, bench/small_mp.py and bench/stor_rounds.py share: the shared harness's module
(../shared/bench/ftpbench.py: clients, CPU meter, stats), their common options, the
logged-in client and the JSON line they append. Standard library only."""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED") or os.path.join(HERE, "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "bench"))
sys.dont_write_bytecode = True  # the shared folder is not ours to write in
import ftpbench  # noqa: E402,F401  (re-exported for the scripts)


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
