#!/usr/bin/env python3
"""The small-files scenario with one client process per session instead of one thread per
session. `make bench` runs it against every server right after the shared harness's
scenarios, on the same server process (bench/run.sh).

Why: the harness's small-files client is one Python process with a thread per session,
so its threads queue for Python's GIL; measured here, its CPU per file doubles against a
server that answers quickly from several threads, and the figure then says more about the
client than the server. Separate processes do not share a GIL. The figure goes beside the
harness's (scenario `small-files-mp`), never instead of it. Each session moves 400 files
(the harness's 100 make runs of 0.1-0.2 s, too short for a stable figure); the first run
creates them, later runs overwrite them, the last deletes them.

usage: small_mp.py --port P --pid PID --label NAME --tls none|explicit --cafile CERT
                   --repeat N --out FILE [--sessions 8] [--files 400] [--size 4096]
                   [--keep-files] (the last run leaves its files too: bench/small_rounds.py)
Each session reports its own CPU time for the timed part (the run's client_cpu_s), so
the report can show what the client alone allows. Standard library only, plus the shared harness's ftpbench.py (clients, CPU meter, stats).
"""
import multiprocessing as mp
import time

from benchclient import connect, ftpbench, options, record

# Every wait is bounded: a session that has not finished by then counts as failed.
MAX_SECONDS = 120


def session(a, w, start, results, last):
    """One client process: log in, wait for the others, upload then download its files."""
    done, cpu = 0, 0.0
    try:
        ftp = connect(a)
        d = a.remote_dir.rstrip("/") + "/small-mp"
        for path in (a.remote_dir, d):
            try:
                ftp.mkd(path)
            except Exception:  # noqa: BLE001 - there already (or made by another session)
                pass
        payload = (b"ftpbench" * (a.size // 8 + 1))[: a.size]
        start.wait(MAX_SECONDS)
        cpu = time.process_time()
        names = []
        for i in range(a.files):
            name = "%s/p%02d-%05d.bin" % (d, w, i)
            ftpbench.store_bytes(ftp, name, payload)
            names.append(name)
            done += 1
        for name in names:
            got, _ = ftpbench.read_data(ftp, "RETR " + name)
            if got != a.size:
                raise RuntimeError("short read on %s" % name)
            done += 1
        results.put((done, None, time.process_time() - cpu))
    except Exception as e:  # noqa: BLE001 - counted, reported
        try:
            start.abort()
        except Exception:  # noqa: BLE001
            pass
        results.put((done, repr(e), 0.0))
        return
    # Outside the timed part: the files go after the last run only; earlier runs leave
    # them for the next to overwrite, as the harness's repetitions do (bench/ftpload.rs:
    # why, this machine's ext4 without a journal).
    try:
        if last:
            for name in names:
                ftp.delete(name)
    finally:
        ftpbench.close_quietly(ftp)


def main():
    ap = options(__doc__)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--keep-files", action="store_true")
    a = ap.parse_args()
    rates, runs, error = [], [], None
    for rep in range(a.repeat):
        start = mp.Barrier(a.sessions + 1)
        results = mp.Queue()
        last = rep == a.repeat - 1 and not a.keep_files
        procs = [mp.Process(target=session, args=(a, w, start, results, last)) for w in range(a.sessions)]
        for p in procs:
            p.start()
        try:
            start.wait(MAX_SECONDS)
        except Exception:  # noqa: BLE001 - a session failed to log in; see its error
            pass
        with ftpbench.CpuMeter(a.pid) as m:
            outcome = []
            deadline = time.monotonic() + MAX_SECONDS
            for _ in procs:
                try:
                    outcome.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
                except Exception:  # noqa: BLE001 - queue.Empty: that session hung
                    outcome.append((0, "no result within %d s" % MAX_SECONDS, 0.0))
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
        files = sum(n for n, _, _ in outcome)
        errors = [e for _, e, _ in outcome if e]
        if errors:
            error = errors[0]
            break
        rates.append(files / m.wall)
        # The meter counts this process's reaped children, and the sessions are still
        # running when it stops: each session reports its own CPU for the timed part.
        run = dict(m.as_dict(), files=files)
        run["client_cpu_s"] = round(sum(c for _, _, c in outcome), 3)
        if run.get("machine_busy_cpu_s") is not None and run.get("server_cpu_s") is not None:
            run["other_cpu_s"] = round(run["machine_busy_cpu_s"] - run["server_cpu_s"] - run["client_cpu_s"], 3)
        runs.append(run)
    record(a, "small-files-mp", "files_per_s", rates, runs, error, sessions=a.sessions,
           files_per_session=a.files, file_bytes=a.size, client="one Python process per session")

if __name__ == "__main__":
    main()
