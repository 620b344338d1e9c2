#!/usr/bin/env python3
"""RETR and STOR of the 1 GiB fixture with a second client: Python's ftplib and ssl
(OpenSSL), reading and writing 1 MiB at a time, data connections resuming the control
connection's TLS session. `make bench` runs it against every server right after the shared
harness's scenarios, on the same server process (bench/run.sh).

Why: the harness times bulk transfers with curl, and curl itself is the limit of its TLS
download figure here (it reads one TLS record per loop turn), so that figure compares the
clients as much as the servers. The same transfers with this client show what each server
does when the client is not the limit. The figures go beside the harness's (scenarios
`retr-big-py`, `stor-big-py`), never instead of them.

usage: bulk_py.py --port P --pid PID --label NAME --tls none|explicit --cafile CERT
                  --repeat N --out FILE [--remote-dir /ftpbench]
Standard library only, plus the shared harness's ftpbench.py (CPU meter, stats, clients).
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED") or os.path.join(HERE, "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "bench"))
sys.dont_write_bytecode = True  # the shared folder is not ours to write in
import ftpbench  # noqa: E402

CHUNK = 1 << 20
BIG = 1 << 30
# Every loop is bounded: a transfer that takes longer than this is abandoned.
MAX_SECONDS = 120


def connect(a):
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


def retr(ftp, path):
    buf = memoryview(bytearray(CHUNK))
    conn = ftp.transfercmd("RETR " + path)
    n, deadline = 0, time.monotonic() + MAX_SECONDS
    while time.monotonic() < deadline:
        k = conn.recv_into(buf)
        if not k:
            break
        n += k
    ftpbench._finish_data(conn)
    ftp.voidresp()
    return n


def stor(ftp, path):
    block = memoryview(os.urandom(CHUNK))
    conn = ftp.transfercmd("STOR " + path)
    n = 0
    deadline = time.monotonic() + MAX_SECONDS
    while n < BIG and time.monotonic() < deadline:
        conn.sendall(block)
        n += CHUNK
    ftpbench._finish_data(conn)
    ftp.voidresp()
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="ftpbench")
    ap.add_argument("--password", default="ftpbench")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--tls", choices=["none", "explicit"], default="none")
    ap.add_argument("--cafile")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--remote-dir", default="/ftpbench")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    big = a.remote_dir.rstrip("/") + "/big.bin"
    up = a.remote_dir.rstrip("/") + "/bulk-py-up.bin"
    for scenario, fn, path in (("retr-big-py", retr, big), ("stor-big-py", stor, up)):
        rates, runs, error = [], [], None
        for _ in range(a.repeat):
            try:
                ftp = connect(a)
                with ftpbench.CpuMeter(a.pid) as m:
                    n = fn(ftp, path)
                if scenario == "stor-big-py":
                    ftp.delete(up)
                ftpbench.close_quietly(ftp)
            except Exception as e:  # noqa: BLE001 - a failed run is recorded, not fatal
                error = repr(e)
                break
            if n != BIG:
                error = "moved %d bytes of %d" % (n, BIG)
                break
            rates.append(n / m.wall / 1e6)
            runs.append(m.as_dict())
        rec = {"label": a.label, "tls": a.tls, "scenario": scenario, "ok": error is None,
               "error": error, "client": "python ftplib/ssl, 1 MiB reads and writes",
               "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "metrics": {"MB_per_s": ftpbench.stats(rates)}, "runs": runs}
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print("%s %s %s: %s" % (a.label, a.tls, scenario,
                                error or " ".join("%.0f" % r for r in rates)), file=sys.stderr)


if __name__ == "__main__":
    main()
