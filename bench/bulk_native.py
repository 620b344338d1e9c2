#!/usr/bin/env python3
"""RETR and STOR of the 1 GiB fixture with the native client (bench/ftpload.rs --bulk:
rustls, 256 KiB reads, 1 MiB writes, the data connection resuming the control's TLS
session). `make bench` runs it against every server right after bench/bulk_py.py, on the
same server process (bench/run.sh).

Why: curl limits its own TLS download figure here (bench/RESULTS.md), and the Python
client's own CPU (one core) caps its TLS download at about the goal's level. This client
costs less per byte than either (measured over TLS: 0.45-0.7 s of CPU a GiB down or up;
curl and Python's ssl 0.9-1.6), so its figures show what each server does when the client
is not the limit. They go
beside the harness's (scenarios `retr-big-native`, `stor-big-native`), never instead.

usage: bulk_native.py --port P --pid PID --label NAME --tls none|explicit --cafile CERT
                      --repeat N --out FILE [--remote-dir /ftpbench] [--ftpload PATH]
"""
import signal
import sys

from benchclient import FTPLOAD, options, record, run_bulk

BIG = 1 << 30


def main():
    # run.sh's timeout sends SIGTERM: exit through run_ftpload's finally, which stops the client.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = options(__doc__)
    ap.add_argument("--ftpload", default=FTPLOAD)
    a = ap.parse_args()
    rd = a.remote_dir.rstrip("/")
    for scenario, kind, path in (("retr-big-native", "retr", rd + "/big.bin"),
                                 ("stor-big-native", "stor", rd + "/bulk-native-up.bin")):
        rates, runs, error = [], [], None
        for _ in range(a.repeat):
            # Uploads deleted after the timed part: an upload over the last one's file
            # made the next runs 1.5-2x slower here, waiting with neither side busy.
            rate, run, error = run_bulk(a, kind, path, BIG, delete=kind == "stor")
            if error:
                break
            rates.append(rate)
            runs.append(run)
        record(a, scenario, "MB_per_s", rates, runs, error,
               client="bench/ftpload.rs --bulk (rustls), 256 KiB reads, 1 MiB writes")


if __name__ == "__main__":
    main()
