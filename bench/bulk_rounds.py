#!/usr/bin/env python3
"""STOR or RETR (--kind) of 1 GiB, the servers interleaved round by round: every server
runs at once (each on its own port), and each round moves the file once to or from each
of them, starting with a different server every round. `make bench` runs it after the
per-server scenarios (bench/run.sh), in both TLS modes, for uploads then downloads.

Why, uploads: on this machine the time of one upload depends on the state of the guest's
memory more than on the server (perf: 86% of a slow upload's server CPU is the kernel's
first copy into page-cache pages that the host has to fault in again, after free page
reporting handed them back). That state drifts over minutes, so the harness's figures,
taken server after server, compare moments as much as servers: the same server's three
uploads spread 445-1565 MB/s in one run. Interleaving puts every server through the same
moments. One untimed upload goes first. The figures go beside the harness's (scenario
`stor-big-rounds`), never instead of them.

Why, downloads: a plain download is sendfile(2) in every fast server, and the servers
measured one after the other differ by less than the machine drifts between them (the
native client's plain RETR: pure-ftpd 2370 MB/s, ferroftpd 2314, each 97-99% of bare
sendfile in the same run). In turn, round by round, with the bare server among them,
the figures say whether a server is behind the others or only measured at another
moment (scenarios `retr-big-rounds`, `retr-big-native-rounds`). Before the rounds each
server gets the file by one untimed upload, the same for all.

With `--clients curl,native` the native client (bench/ftpload.rs --bulk, 1 MiB writes of
bytes it makes, no file read; 256 KiB reads into nothing) takes its turns too, each round
going through every (server, client) pair (scenarios `stor-big-native-rounds`,
`retr-big-native-rounds`): curl's own CPU limits its TLS transfers here, and the native
client's show the servers. run.sh puts the bare server (bench/smallfloor.rs, label
"floor": splice for plain uploads, sendfile for plain downloads, 256 KiB writes over
TLS, nothing else) among the servers, so every row has the least an FTP server does for
the same bytes in the same moments.

The client is the harness's own curl command (downloads go to /dev/null); the file it
uploads is copied into /dev/shm when there is room (the harness's copy on disk is paged
out between runs, which would time the disk as well), else the harness's file is used.

usage: bulk_rounds.py --kind stor|retr --servers LABEL:PORT:PID[,...] --tls none|explicit
                      --cafile CERT --rounds N --out FILE [--remote-dir /ftpbench]
                      [--clients curl,native]
Standard library only, plus the shared harness's ftpbench.py (curl command, CPU meter).
"""
import os
import shutil
import signal
import sys
import time

from benchclient import FTPLOAD, connect, ftpbench, options, parse_servers, record, run_bulk

# Every transfer is bounded: curl's --max-time (the native client bounds itself).
MAX_SECONDS = 120


def source(args):
    """The file curl uploads: the harness's fixture, copied to tmpfs if it fits."""
    big = ftpbench.local_big_file(args)
    shm = "/dev/shm/ferroftpd-bench-%dMiB.bin" % args.big_mib
    try:
        if os.path.getsize(shm) == os.path.getsize(big):
            return shm, shm
    except OSError:
        pass
    try:
        if shutil.disk_usage("/dev/shm").free > 2 * os.path.getsize(big):
            shutil.copyfile(big, shm)
            return shm, shm
    except OSError:
        pass
    return big, None


def upload(a, port, pid, src, path, keep=False):
    """One timed curl upload; the figures, or raises. The file is checked, and deleted
    unless keep, outside the timed part, as the harness does."""
    a.port = port
    cmd = ftpbench.curl_base(a, MAX_SECONDS) + ["-T", src, ftpbench.curl_url(a, path)]
    with ftpbench.CpuMeter(pid) as m:
        r = ftpbench.run_curl(cmd, MAX_SECONDS)
    size = os.path.getsize(src)
    if r["size_upload"] != size:
        raise RuntimeError("uploaded %d bytes, expected %d" % (r["size_upload"], size))
    ftp = connect(a)
    try:
        got = ftpbench.remote_size(ftp, path)
        if got != size:
            raise RuntimeError("server stored %s bytes, expected %d" % (got, size))
        if not keep:
            ftp.delete(path)
    finally:
        ftpbench.close_quietly(ftp)
    return r["speed_upload"] / 1e6, dict(m.as_dict(), time_total=r["time_total"])


def download(a, port, pid, size, path):
    """One timed curl download into /dev/null; the figures, or raises."""
    a.port = port
    cmd = ftpbench.curl_base(a, MAX_SECONDS) + ["-o", os.devnull, ftpbench.curl_url(a, path)]
    with ftpbench.CpuMeter(pid) as m:
        r = ftpbench.run_curl(cmd, MAX_SECONDS)
    if r["size_download"] != size:
        raise RuntimeError("downloaded %d bytes, expected %d" % (r["size_download"], size))
    return r["speed_download"] / 1e6, dict(m.as_dict(), time_total=r["time_total"])


def native(a, port, pid, kind, size, path):
    """One timed transfer of `size` bytes by the native client; an upload is deleted after
    (outside the timed part). The figures, or raises."""
    a.port, a.pid = port, pid
    rate, run, error = run_bulk(a, kind, path, size, delete=kind == "stor")
    if error:
        raise RuntimeError(error)
    return rate, run


SCENARIO = {("stor", "curl"): "stor-big-rounds", ("stor", "native"): "stor-big-native-rounds",
            ("retr", "curl"): "retr-big-rounds", ("retr", "native"): "retr-big-native-rounds"}
HOW = {("stor", "curl"): "curl -T, servers interleaved round by round from %s",
       ("stor", "native"): "bench/ftpload.rs --bulk stor, servers interleaved round by round",
       ("retr", "curl"): "curl -o /dev/null, servers interleaved round by round",
       ("retr", "native"): "bench/ftpload.rs --bulk retr, servers interleaved round by round"}


def prepare(a, label, port, pid, kind, src, size, path):
    """The folder on a freshly started server (its home is empty), and for downloads the
    file, by one untimed upload (curl's, of `src`, or the native client's)."""
    a.port = port
    try:
        ftp = connect(a)
    except Exception as e:  # noqa: BLE001 - the transfers will say what is wrong
        print("%s: %r" % (label, e), file=sys.stderr)
        return
    try:
        ftp.mkd(a.remote_dir)
    except ftpbench.ftplib.all_errors:
        pass  # there already
    ftpbench.close_quietly(ftp)
    if kind != "retr":
        return
    try:
        if src:
            upload(a, port, pid, src, path, keep=True)
        else:
            a.port, a.pid = port, pid
            error = run_bulk(a, "stor", path, size)[2]
            if error:
                raise RuntimeError(error)
    except Exception as e:  # noqa: BLE001 - that server's downloads will say
        print("%s: the file to download: %r" % (label, e), file=sys.stderr)


def remove(a, servers, path):
    """The downloads' file, from every server, after the rounds (not timed)."""
    for _, port, _ in servers:
        a.port = port
        try:
            ftp = connect(a)
            ftp.delete(path)
            ftpbench.close_quietly(ftp)
        except Exception:  # noqa: BLE001 - the server's script removes its folder anyway
            pass


def main():
    ap = options(__doc__, one_server=False)
    ap.add_argument("--kind", choices=["stor", "retr"], default="stor")
    ap.add_argument("--servers", required=True, help="LABEL:PORT:PID, comma separated")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--clients", default="curl", help="curl, native or both, comma separated")
    ap.add_argument("--ftpload", default=FTPLOAD)
    a = ap.parse_args()
    if not a.servers:
        sys.exit("bulk_rounds: no servers")
    clients = [c for c in a.clients.split(",") if c]
    if not clients or any(c not in ("curl", "native") for c in clients):
        sys.exit("bulk_rounds: --clients takes curl and native")
    kind = a.kind
    # run.sh's timeout ends this with SIGTERM: unwind, so the tmpfs copy is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # What the harness's curl helpers read from its own options.
    a.curl, a.insecure, a.timeout, a.local_big_file = "curl", False, 30, None
    servers = parse_servers(a.servers)
    # curl uploads a file; the native client makes its bytes (as many: the fixture's size).
    src, made = source(a) if "curl" in clients else (None, None)
    size = os.path.getsize(src) if src else a.big_mib << 20
    path = a.remote_dir.rstrip("/") + ("/rounds-up.bin" if kind == "stor" else "/rounds-down.bin")
    # Every (server, client) pair takes one turn a round, from a different pair each round.
    pairs = [(label, port, pid, c) for c in clients for label, port, pid in servers]
    got = {(label, c): ([], [], None) for label, _, _, c in pairs}

    def once(port, pid, c):
        if kind == "retr" and c == "curl":
            return download(a, port, pid, size, path)
        if c == "curl":
            return upload(a, port, pid, src, path)
        return native(a, port, pid, kind, size, path)

    try:
        for label, port, pid in servers:
            prepare(a, label, port, pid, kind, src, size, path)
        if kind == "retr":
            # The uploads' dirty pages written out now, not during the first downloads,
            # and the tmpfs copy (needed no more) given back before the timing.
            os.sync()
            if made:
                os.unlink(made)
                made = None
        # One transfer first, not timed: the first after the copy above would pay for the
        # memory the copy took (whichever server came first).
        try:
            once(servers[0][1], servers[0][2], clients[0])
        except Exception:  # noqa: BLE001 - that server's timed transfers will say
            pass
        for rnd in range(a.rounds):
            k = rnd % len(pairs)
            for pos, (label, port, pid, c) in enumerate(pairs[k:] + pairs[:k]):
                rates, runs, error = got[(label, c)]
                if error:
                    continue
                try:
                    rate, run = once(port, pid, c)
                except Exception as e:  # noqa: BLE001 - a failed server is recorded, not fatal
                    got[(label, c)] = (rates, runs, repr(e)[:300])
                    continue
                rates.append(rate)
                runs.append(dict(run, round=rnd + 1, position=pos + 1,
                                 at=time.strftime("%H:%M:%S", time.gmtime())))
    finally:
        if made:
            os.unlink(made)
        if kind == "retr":
            remove(a, servers, path)
    for label, _, _, c in pairs:
        rates, runs, error = got[(label, c)]
        a.label = label
        how = HOW[(kind, c)]
        if kind == "stor" and c == "curl":
            how = how % ("tmpfs" if made else "the harness's file")
        record(a, SCENARIO[(kind, c)], "MB_per_s", rates, runs, error, bytes=size, client=how)


if __name__ == "__main__":
    main()
