#!/usr/bin/env python3
"""Floors for the 1 GiB transfers: the same bytes over loopback TCP with no FTP server at
all, so a server's RETR and STOR figures can be read against what this machine allows.

- retr: the harness's 1 GiB fixture, in the page cache, sent by bare sendfile(2) (8 MiB
  calls under TCP_CORK, as ferroftpd does) to a reader taking 100 KiB a read into
  /dev/null (as curl does). iperf3 (limit.sh) sends one 128 KiB buffer over and over,
  which stays in the CPU's cache; a file server's 1 GiB comes from memory.
- retr-curl: the same file, sent the same way, to curl (the harness's client) over plain
  http://: the most curl takes in from a 1 GiB file here, whatever the server.
- stor: a sender (sendfile from the same file) to a receiver writing 256 KiB a write into
  a new file in $TMPDIR, the file system the servers' data directories are on; the file
  is removed after each run, outside the timing. The spread of this figure is the page
  cache's: on a VM whose host provides memory lazily, a write that needs fresh pages is
  several times slower than one that reuses pages just freed.

- retr-tls: the same file over TLS to curl (the harness's client), from a bare sender: a
  Python ssl (OpenSSL) HTTPS responder reading the file 1 MiB at a time. curl reads TLS
  the same way for https:// as for ftp:// with --ssl-reqd, so this is the most curl
  takes in from a 1 GiB file over TLS on this machine, whatever the server.
- stor-tls: the other way: curl uploads the file (an HTTPS PUT, -T) to a bare Python ssl
  receiver reading 1 MiB at a time and keeping nothing: the most curl sends over TLS here,
  whatever the server (which must also write the bytes to a file).
- stor-tls-file: the same, the receiver writing what it gets into a new file in $TMPDIR
  (256 KiB a write, as ferroftpd): what a server that must keep the upload can reach
  with curl here, the VM's page-cache cost included (see stor).
- list: one readdir pass and one fstatat per entry over 10,000 subdirectories (as the
  harness's list-big makes them) in $TMPDIR, by bench/listfloor.c (built here with cc),
  best of 10 passes: what LIST and MLSD cannot go below, before any formatting or sending.

usage: floors.py [--file BIG] [--repeat N] [--entries N] --cert PEM --key PEM --out FILE
       (appends one JSON line)
Standard library and a C compiler; traffic to 127.0.0.1 only; every loop is bounded.
"""
import argparse
import json
import os
import socket
import ssl
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

MAX_SECONDS = 60
WRITE = 256 << 10   # bytes a file write in the upload floors: ferroftpd's upload buffer


def stats(v):
    if not v:
        return {"n": 0}
    return {"n": len(v), "min": min(v), "median": statistics.median(v), "max": max(v)}


def pair():
    """A connected loopback TCP pair, TCP_NODELAY on both ends as FTP clients set it."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(MAX_SECONDS)
    c = socket.create_connection(ls.getsockname(), timeout=MAX_SECONDS)
    s, _ = ls.accept()
    ls.close()
    for k in (c, s):
        bounded_blocking(k)
    return s, c


def bounded_blocking(k):
    """A blocking socket (os.sendfile needs one) whose calls still end within MAX_SECONDS,
    TCP_NODELAY on."""
    tv = struct.pack("ll", MAX_SECONDS, 0)
    k.settimeout(None)
    k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    k.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    k.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def send_file(sock, path, cork):
    fd = os.open(path, os.O_RDONLY)
    try:
        size, off = os.fstat(fd).st_size, 0
        if cork:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        while off < size:
            n = os.sendfile(sock.fileno(), fd, off, min(8 << 20, size - off))
            if n == 0:
                break
            off += n
        if cork:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
    finally:
        os.close(fd)
        sock.shutdown(socket.SHUT_WR)


def drain(sock, chunk, out_fd):
    """Reads until EOF, writing to out_fd; returns the bytes read."""
    buf = bytearray(chunk)
    mv = memoryview(buf)
    n, deadline = 0, time.monotonic() + MAX_SECONDS
    while time.monotonic() < deadline:
        k = sock.recv_into(buf)
        if not k:
            break
        write_all(out_fd, mv[:k])
        n += k
    return n


def write_all(fd, view):
    while view:
        view = view[os.write(fd, view):]


def rate(n, path, dt):
    if n != os.path.getsize(path):
        raise RuntimeError("moved %d bytes of %d" % (n, os.path.getsize(path)))
    return n / dt / 1e6


def move(path, upload, chunk, out_fd):
    """MB/s of `path` over a loopback pair: sent by sendfile (under TCP_CORK for a download,
    as ferroftpd does), read `chunk` bytes at a time into `out_fd`. For an upload the
    accepted end reads, as a server's does."""
    s, c = pair()
    sender, receiver = (c, s) if upload else (s, c)
    try:
        t = threading.Thread(target=send_file, args=(sender, path, not upload))
        t0 = time.perf_counter()
        t.start()
        n = drain(receiver, chunk, out_fd)
        dt = time.perf_counter() - t0
        t.join(MAX_SECONDS)
        return rate(n, path, dt)
    finally:
        s.close()
        c.close()


def retr_once(path):
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        return move(path, False, 100 * 1024, null)
    finally:
        os.close(null)


def into_temp_file(where, measure):
    """measure(fd) with fd a new file in `where`, removed after."""
    fd, target = tempfile.mkstemp(prefix="ftpbench-floor-", dir=where)
    try:
        return measure(fd)
    finally:
        os.close(fd)
        os.unlink(target)


def stor_once(path, where):
    return into_temp_file(where, lambda fd: move(path, True, WRITE, fd))


def tls_once(path, cert, key, upload=False, out_fd=None):
    """curl's rate downloading `path` over TLS from a bare Python ssl sender, or uploading
    it (upload) to a bare receiver that keeps nothing or, given out_fd, writes what it
    receives there, WRITE bytes a write as ferroftpd does."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    size = os.path.getsize(path)

    def serve(ls):
        c, _ = ls.accept()
        c.settimeout(MAX_SECONDS)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(c, server_side=True) as t:
            req = http_request(t)
            if req is None:
                return
            buf = bytearray(1 << 20)
            mv = memoryview(buf)
            if upload:
                head, body = req.split(b"\r\n\r\n", 1)
                if b"100-continue" in head.lower():
                    t.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if out_fd is not None:
                    write_all(out_fd, memoryview(body))
                n, held = len(body), 0
                while n < size:
                    # An SSL read returns one record at most: gather WRITE bytes a write.
                    k = t.recv_into(mv[held:held + WRITE])
                    if not k:
                        break
                    n += k
                    held += k
                    if held >= WRITE or n >= size:
                        if out_fd is not None:
                            write_all(out_fd, mv[:held])
                        held = 0
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
            with open(path, "rb", buffering=0) as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    t.sendall(mv[:n])

    how = ["-T", path, "-o", os.devnull, "-w", "%{size_upload} %{speed_upload}"] if upload else \
        ["-o", os.devnull, "-w", "%{size_download} %{speed_download}"]
    return curl_once(serve, "https", ["--cacert", cert] + how, size)


def retr_curl_once(path):
    """curl's rate downloading `path` (http://, so no TLS) from a bare sender: sendfile(2)
    in 8 MiB calls under TCP_CORK, as ferroftpd sends a plain download. curl reads plain
    http:// as it reads ftp://, so this is the most curl takes in from a 1 GiB file here,
    whatever the server."""
    size = os.path.getsize(path)

    def serve(ls):
        c, _ = ls.accept()
        bounded_blocking(c)
        with c:
            if http_request(c) is None:
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
            send_file(c, path, True)

    return curl_once(serve, "http", ["-o", os.devnull, "-w", "%{size_download} %{speed_download}"], size)


def http_request(sock):
    """curl's request head and what came after it, or None if it closed first."""
    req = b""
    while b"\r\n\r\n" not in req and len(req) < 65536:
        got = sock.recv(4096)
        if not got:
            return None
        req += got
    return req


def curl_once(serve, scheme, args, size):
    """Runs serve(listener) on a thread for one curl run (args, then scheme://127.0.0.1:port/)
    that prints "bytes speed"; returns its MB/s, or raises if it moved other than `size`."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(MAX_SECONDS)
    th = threading.Thread(target=serve, args=(ls,))
    th.start()
    try:
        out = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", str(MAX_SECONDS)] + args +
                             ["%s://127.0.0.1:%d/" % (scheme, ls.getsockname()[1])],
                             capture_output=True, text=True, timeout=MAX_SECONDS + 5)
    finally:
        th.join(MAX_SECONDS)
        ls.close()
    if out.returncode != 0:
        raise RuntimeError("curl exit %d: %s" % (out.returncode, out.stderr.strip()[:200]))
    got, speed = out.stdout.split()
    if int(got) != size:
        raise RuntimeError("curl moved %s bytes of %d: %s" % (got, size, out.stderr.strip()[:200]))
    return float(speed) / 1e6


def list_floor(entries, where):
    """Best-of-10 milliseconds for readdir + fstatat of `entries` subdirectories."""
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="ftpbench-floor-list-", dir=where)
    try:
        exe = os.path.join(work, "listfloor")
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(here, "listfloor.c")], check=True, timeout=60)
        d = os.path.join(work, "list")
        os.mkdir(d)
        for i in range(entries):
            os.mkdir(os.path.join(d, "entry-%05d" % i))
        out = subprocess.run([exe, d, "10"], check=True, timeout=60, capture_output=True, text=True).stdout.split()
        if int(out[0]) < entries:
            raise RuntimeError("listfloor saw %s entries of %d" % (out[0], entries))
        return float(out[1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    tmp = os.environ.get("TMPDIR", "/tmp")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default=os.path.join(tmp, "ftpbench-cache", "big-1024MiB.bin"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--cert", required=True, help="certificate for the TLS floor (the harness's)")
    ap.add_argument("--key", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not os.path.isfile(a.file):
        sys.exit("floors: %s not found (limit.sh makes it)" % a.file)
    errors = {}

    def runs(name, measure):
        """`measure` a.repeat times; a failure ends this floor alone (kept in "errors"),
        so one failed curl run does not lose the others."""
        got = []
        try:
            for _ in range(a.repeat):
                with open(a.file, "rb") as f:  # back into the page cache if it was evicted
                    while f.read(8 << 20):
                        pass
                got.append(measure())
        except Exception as e:  # noqa: BLE001 - recorded, and the other floors go on
            errors[name] = repr(e)[:300]
        return got

    retr = runs("retr", lambda: retr_once(a.file))
    retr_curl = runs("retr_curl", lambda: retr_curl_once(a.file))
    stor = runs("stor", lambda: stor_once(a.file, tmp))
    tls = runs("retr_tls", lambda: tls_once(a.file, a.cert, a.key))
    tls_up = runs("stor_tls", lambda: tls_once(a.file, a.cert, a.key, upload=True))
    tls_file = runs("stor_tls_file", lambda: into_temp_file(tmp, lambda fd: tls_once(
        a.file, a.cert, a.key, upload=True, out_fd=fd)))
    list_ms = None
    try:
        list_ms = list_floor(a.entries, tmp)
    except Exception as e:  # noqa: BLE001 - as above
        errors["list"] = repr(e)[:300]
    rec = {"floors": True, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "bytes": os.path.getsize(a.file),
           "retr_sendfile_MB_per_s": stats(retr), "retr_curl_MB_per_s": stats(retr_curl),
           "stor_bare_MB_per_s": stats(stor),
           "retr_tls_curl_MB_per_s": stats(tls), "stor_tls_curl_MB_per_s": stats(tls_up),
           "stor_tls_curl_file_MB_per_s": stats(tls_file),
           "list_stat_s": list_ms / 1000 if list_ms is not None else None, "list_entries": a.entries,
           "errors": errors}
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")

    def show(v):
        return " ".join("%.0f" % x for x in v) or "-"

    print("floors: RETR bare sendfile %s MB/s, to curl %s MB/s; STOR bare upload %s MB/s; curl over TLS %s MB/s, "
          "uploading %s MB/s, into a file %s MB/s; readdir+stat of %d entries %s ms%s" % (
              show(retr), show(retr_curl), show(stor), show(tls), show(tls_up), show(tls_file), a.entries,
              "-" if list_ms is None else "%.1f" % list_ms,
              "; failed: %s" % errors if errors else ""), file=sys.stderr)

if __name__ == "__main__":
    main()
