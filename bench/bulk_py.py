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
import os
import time

from benchclient import connect, ftpbench, options, record

CHUNK = 1 << 20
BIG = 1 << 30
# Every loop is bounded: a transfer that takes longer than this is abandoned.
MAX_SECONDS = 120


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
    a = options(__doc__).parse_args()
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
        record(a, scenario, "MB_per_s", rates, runs, error,
               client="python ftplib/ssl, 1 MiB reads and writes")


if __name__ == "__main__":
    main()
