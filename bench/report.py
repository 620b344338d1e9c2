#!/usr/bin/env python3
"""The `make bench` report: ferroftpd against the best peer of the same run, per goal.

usage: python3 bench/report.py [--log RUN.log] bench/results/bench-STAMP.jsonl [limits-STAMP.json]
                               [floors-STAMP.json]

Reads ftpbench.py's JSON lines (records of one server, scenario and TLS mode are pooled,
as the shared report.py does: idle-conns runs once per fresh server), prints

1. the goal table: for each goal, ferroftpd's median, the best peer's median (which peer),
   the ratio, the goal and whether it is met;
2. the shared harness's full table (../shared/bench/report.py) for the details: min-max,
   latencies, memory, CPU per GiB, resumed TLS sessions, noise, physical limits.

Medians of the repetitions throughout; a ratio compares two medians of the same run.
Standard library only.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED") or os.path.join(HERE, "..", "..", "shared")
SHARED_REPORT = os.path.join(SHARED, "bench", "report.py")
OURS = "ferroftpd"
# Not a server anyone runs: bench/smallfloor.rs, the least a server does per small file
# and per 1 GiB transfer, measured with every small-files client and in the STOR and RETR
# rounds (bench/run.sh).
FLOOR = "floor"

# (title, scenario, tls, metric, higher_is_better, goal kind, goal value)
# goal kinds: "ratio" (ours / best peer, or best / ours when lower is better, >= value),
# "max" (ours <= value), "all" (every connection alive).
GOALS = [
    ("RETR 1 GiB, plain (MB/s)", "retr-big", "none", "MB_per_s", True, "ratio", 1.0),
    ("STOR 1 GiB, plain (MB/s)", "stor-big", "none", "MB_per_s", True, "ratio", 1.2),
    ("RETR 1 GiB, explicit TLS (MB/s)", "retr-big", "explicit", "MB_per_s", True, "ratio", 2.0),
    ("STOR 1 GiB, explicit TLS (MB/s)", "stor-big", "explicit", "MB_per_s", True, "ratio", 1.5),
    # The same uploads with every server running and the servers taking turns, round by
    # round (bench/bulk_rounds.py): the machine's memory, not the server, sets an
    # upload's time here, and it drifts over minutes.
    ("STOR 1 GiB, plain, servers in turn round by round (MB/s)", "stor-big-rounds", "none", "MB_per_s",
     True, "ratio", 1.2),
    ("STOR 1 GiB, explicit TLS, servers in turn round by round (MB/s)", "stor-big-rounds", "explicit",
     "MB_per_s", True, "ratio", 1.5),
    # The same rounds with the native client (bench/ftpload.rs). In both, the bare server
    # takes its turns (label "floor": an upload's least work, plain by splice into the
    # file, TLS 256 KiB a write).
    ("STOR 1 GiB, plain, servers in turn round by round, native client (MB/s)", "stor-big-native-rounds",
     "none", "MB_per_s", True, "ratio", 1.2),
    ("STOR 1 GiB, explicit TLS, servers in turn round by round, native client (MB/s)",
     "stor-big-native-rounds", "explicit", "MB_per_s", True, "ratio", 1.5),
    # Downloads in turn likewise (bench/bulk_rounds.py --kind retr): a plain download is
    # sendfile in every fast server, and they differ by less than the machine drifts.
    ("RETR 1 GiB, plain, servers in turn round by round (MB/s)", "retr-big-rounds", "none", "MB_per_s",
     True, "ratio", 1.0),
    ("RETR 1 GiB, explicit TLS, servers in turn round by round (MB/s)", "retr-big-rounds", "explicit",
     "MB_per_s", True, "ratio", 2.0),
    ("RETR 1 GiB, plain, servers in turn round by round, native client (MB/s)", "retr-big-native-rounds",
     "none", "MB_per_s", True, "ratio", 1.0),
    ("RETR 1 GiB, explicit TLS, servers in turn round by round, native client (MB/s)",
     "retr-big-native-rounds", "explicit", "MB_per_s", True, "ratio", 2.0),
    # The same transfers with a second client (bench/bulk_py.py): curl limits its own TLS
    # download figure here, so these show the servers with the client out of the way.
    ("RETR 1 GiB, plain, Python client (MB/s)", "retr-big-py", "none", "MB_per_s", True, "ratio", 1.0),
    ("STOR 1 GiB, plain, Python client (MB/s)", "stor-big-py", "none", "MB_per_s", True, "ratio", 1.2),
    ("RETR 1 GiB, explicit TLS, Python client (MB/s)", "retr-big-py", "explicit", "MB_per_s", True,
     "ratio", 2.0),
    ("STOR 1 GiB, explicit TLS, Python client (MB/s)", "stor-big-py", "explicit", "MB_per_s", True,
     "ratio", 1.5),
    # The same transfers with a native client (bench/bulk_native.py), which costs less per
    # byte than curl or Python over TLS: the servers' own limits.
    ("RETR 1 GiB, plain, native client (MB/s)", "retr-big-native", "none", "MB_per_s", True, "ratio", 1.0),
    ("STOR 1 GiB, plain, native client (MB/s)", "stor-big-native", "none", "MB_per_s", True, "ratio", 1.2),
    ("RETR 1 GiB, explicit TLS, native client (MB/s)", "retr-big-native", "explicit", "MB_per_s", True,
     "ratio", 2.0),
    ("STOR 1 GiB, explicit TLS, native client (MB/s)", "stor-big-native", "explicit", "MB_per_s", True,
     "ratio", 1.5),
    ("small files 4 KiB up+down, plain (files/s)", "small-files", "none", "files_per_s", True, "ratio", 1.5),
    ("small files, explicit TLS, session reuse (files/s)", "small-files", "explicit", "files_per_s", True,
     "ratio", 2.0),
    # The same with a client process per session (bench/small_mp.py): the harness's
    # threads queue for Python's GIL.
    ("small files, plain, a process per session (files/s)", "small-files-mp", "none", "files_per_s",
     True, "ratio", 1.5),
    ("small files, explicit TLS, a process per session (files/s)", "small-files-mp", "explicit",
     "files_per_s", True, "ratio", 2.0),
    # The same with a native client (bench/small_native.py): the Python clients cost more
    # CPU a file than the fastest servers. Every small-files row shows bench/smallfloor.rs
    # (label "floor"), a server doing only what FTP requires, with that row's client. TLS
    # 1.2 too: rustls, the client, uses each TLS 1.3 ticket once, so its data connections
    # resume sessions of earlier data connections, which ProFTPD refuses; in TLS 1.2 each
    # resumes the control's session.
    ("small files, plain, native client (files/s)", "small-files-native", "none", "files_per_s",
     True, "ratio", 1.5),
    ("small files, explicit TLS 1.3, native client (files/s)", "small-files-native", "explicit",
     "files_per_s", True, "ratio", 2.0),
    ("small files, explicit TLS 1.2, native client (files/s)", "small-files-native-tls12", "explicit",
     "files_per_s", True, "ratio", 2.0),
    # The same clients with every server running, the bare server among them, taking turns
    # round by round (bench/small_rounds.py): a small-files run lasts seconds, and the
    # client's CPU a file drifts more than the servers differ.
    ("small files, plain, servers in turn, harness's client (files/s)", "small-files-rounds", "none",
     "files_per_s", True, "ratio", 1.5),
    ("small files, explicit TLS, servers in turn, harness's client (files/s)", "small-files-rounds",
     "explicit", "files_per_s", True, "ratio", 2.0),
    ("small files, plain, servers in turn, a process per session (files/s)", "small-files-mp-rounds",
     "none", "files_per_s", True, "ratio", 1.5),
    ("small files, explicit TLS, servers in turn, a process per session (files/s)",
     "small-files-mp-rounds", "explicit", "files_per_s", True, "ratio", 2.0),
    ("small files, plain, servers in turn, native client (files/s)", "small-files-native-rounds", "none",
     "files_per_s", True, "ratio", 1.5),
    ("small files, explicit TLS 1.3, servers in turn, native client (files/s)",
     "small-files-native-rounds", "explicit", "files_per_s", True, "ratio", 2.0),
    ("small files, explicit TLS 1.2, servers in turn, native client (files/s)",
     "small-files-native-tls12-rounds", "explicit", "files_per_s", True, "ratio", 2.0),
    ("logins/s, plain (connect, USER, PASS, QUIT)", "logins", "none", "logins_per_s", True, "ratio", 1.5),
    ("logins/s, explicit TLS (no goal)", "logins", "explicit", "logins_per_s", True, None, None),
    ("LIST 10,000 entries, plain (s)", "list-big", "none", "LIST_s", False, "ratio", 2.0),
    ("MLSD 10,000 entries, plain (s)", "list-big", "none", "MLSD_s", False, "ratio", 2.0),
    ("LIST 10,000 entries, TLS (s)", "list-big", "explicit", "LIST_s", False, "ratio", 2.0),
    ("MLSD 10,000 entries, TLS (s)", "list-big", "explicit", "MLSD_s", False, "ratio", 2.0),
    ("idle session, PSS KiB @1000, plain", "idle-conns", "none", "pss_tree_kib_per_conn@1000", False, "max", 16),
    ("idle session, PSS KiB @1000, TLS", "idle-conns", "explicit", "pss_tree_kib_per_conn@1000", False, "max", 32),
    ("10,000 logged-in sessions, plain: alive", "idle-conns", "none", "alive@10000", True, "all", 10000),
    ("10,000 logged-in sessions, TLS: alive", "idle-conns", "explicit", "alive@10000", True, "all", 10000),
]


def load(paths):
    sys.path.insert(0, os.path.dirname(SHARED_REPORT))
    sys.dont_write_bytecode = True  # the shared folder is not ours to write in
    try:
        from report import merge  # the shared harness's pooling of repetitions
    except ImportError:
        merge = None
    recs, limits, floors = [], None, None
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                d = json.loads(line)
                if d.get("limits"):
                    limits = d
                elif d.get("floors"):
                    floors = d
                elif "scenario" in d:
                    recs.append(d)
    by = OrderedDict()
    for r in recs:
        key = (r["scenario"], r["tls"])
        d = by.setdefault(r["label"], {})
        if key in d and merge:
            d[key] = merge(d[key], r)
        elif key not in d:
            d[key] = r
    return recs, by, limits, floors


def median(by, label, sc, tls, metric):
    rec = by.get(label, {}).get((sc, tls))
    if not rec or not rec.get("ok"):
        return None, rec
    st = rec.get("metrics", {}).get(metric)
    if not st or not st.get("n"):
        return None, rec
    return st["median"], rec


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def spread(rec, metric):
    st = (rec or {}).get("metrics", {}).get(metric) or {}
    if not st.get("n"):
        return ""
    return " (%s-%s)" % (fmt(st["min"]), fmt(st["max"]))


def share(ours, bound, what, beyond, met, goal, peak=None):
    """"; N% of WHAT" for ferroftpd's median against a measured bound (min, median, max),
    and why a goal not met is out of reach: above the bound's median. A server above the
    bound's best was measured in a faster moment (the VM's page cache and CPU drift over
    minutes), so then the bound bounds nothing and the text says so; a peer (`peak`, its
    median with the same client) above the bound's median shows the same, so the goal is
    then not called out of reach."""
    s = "; %.0f%% of %s" % (100 * ours / bound["median"], what)
    if ours > bound["max"]:
        s += ": above its best, measured at another moment, no bound"
    elif peak and peak > bound["max"]:
        s += ": a peer went above its best, measured at another moment, no bound"
    elif met == "no" and goal and bound["median"] < goal and not (peak and peak > bound["median"]):
        s += ": the goal, %s, is beyond %s" % (fmt(goal), beyond)
    return s


def floor_of(floors, key):
    st = (floors or {}).get(key) or {}
    return st if st.get("n") else None


# How many cores each scenario's client can use at most: curl, bench/bulk_py.py and
# ftpload --bulk are one thread; the small-files clients' threads or processes, every core.
ONE_CORE = {"retr-big", "stor-big", "retr-big-py", "stor-big-py", "stor-big-rounds", "retr-big-rounds",
            "retr-big-native-rounds", "retr-big-native",
            "stor-big-native", "stor-big-native-rounds"}


def client_ceiling(by, sc, tls, metric):
    """The most the client could do if the server cost nothing: its own CPU per unit over
    the cores it can use. The CPU per unit is the lowest of the servers' medians, since a
    server can make the client work harder (threads of a Python client queue for the GIL
    when many replies come at once, and pay for waking the server's threads)."""
    if metric not in ("MB_per_s", "files_per_s"):
        return None
    cores = 1 if sc in ONE_CORE else (os.cpu_count() or 1)
    # The same client code with a process per session (small_mp.py) shows what a file
    # costs it without the GIL queue: a bound for the threaded client too.
    kinds = {"small-files": (sc, "small-files-mp"),
             "small-files-rounds": (sc, "small-files-mp-rounds")}.get(sc, (sc,))
    costs = [c for d in by.values() for k in kinds if (c := client_cost(d.get((k, tls)), metric))]
    return cores / min(costs) if costs else None


def run_files(r):
    """The files one small-files run moved (the harness counts uploads and downloads)."""
    return r.get("files") or ((r.get("uploads") or 0) + (r.get("downloads") or 0))


def client_cost(rec, metric):
    """The client's median CPU seconds per unit (MB or file) in one server's runs."""
    if not rec or not rec.get("ok"):
        return None
    per = []
    for r in rec.get("runs", []):
        cpu = r.get("client_cpu_s")
        if metric == "MB_per_s":
            units = (rec.get("bytes") or 1 << 30) / 1e6
        else:
            units = run_files(r)
        if cpu and units:
            per.append(cpu / units)
    if not per:
        return None
    per.sort()
    return per[len(per) // 2]


def server_cost(rec, per_file):
    """The server's median CPU in one server's runs: milliseconds a file (per_file), or
    seconds a run (the 1 GiB scenarios: seconds a GiB)."""
    per = sorted((1000 * r["server_cpu_s"] / run_files(r)) if per_file else r["server_cpu_s"]
                 for r in (rec or {}).get("runs", [])
                 if r.get("server_cpu_s") is not None and (run_files(r) or not per_file))
    return per[len(per) // 2] if per and (rec or {}).get("ok") else None


def server_notes(by, peers, sc, tls, per_file):
    """For the native client's rows and the rounds': each server's CPU a file or a GiB (a
    server that uses a whole core is its own limit), the servers whose runs failed, with
    their error, and the runs made again (bench/small_native.py: why)."""
    recs = [(label, by.get(label, {}).get((sc, tls))) for label in [OURS] + peers]
    costs = [(label, c) for label, rec in recs if (c := server_cost(rec, per_file)) is not None]
    notes = []
    if costs:
        notes.append("server CPU a %s: " % ("file" if per_file else "GiB") + ", ".join(
            ("%s %.3f ms" if per_file else "%s %.2f s") % lc for lc in costs))
    for label, rec in recs:
        if rec and not rec.get("ok"):
            notes.append("%s failed: %s" % (label, (rec.get("error") or "?")[:80]))
        again = [r["made_again_after"] for r in (rec or {}).get("runs", []) if r.get("made_again_after")]
        if again:
            notes.append("%s: %d run%s made again after: %s" % (
                label, len(again), "" if len(again) == 1 else "s", again[0][:80]))
    return notes


def floor_note(by, sc, tls, metric, best, value, ours):
    """For the small-files rows and the STOR and RETR rounds: the bare server's figures
    (bench/smallfloor.rs) with the row's client. Below the goal, no server reaches the goal
    with this client here; but a bare server slower than a real server measured its
    moment, not a bound (run alone, it comes after the servers, with their sockets in
    TIME_WAIT and their files deleted; in the rounds, bench/small_rounds.py and
    bench/bulk_rounds.py, it takes its turn among them)."""
    floor, frec = median(by, FLOOR, sc, tls, metric)
    if floor is None:
        failed = frec and not frec.get("ok")
        return ["bare server failed: %s" % (frec.get("error") or "?")[:80]] if failed else []
    per_file = metric == "files_per_s"
    cost = server_cost(frec, per_file)
    note = "bare server (bench/smallfloor.rs), same client: %s %s%s at %s" % (
        fmt(floor), "files/s" if per_file else "MB/s", spread(frec, metric),
        "-" if cost is None else ("%.3f ms a file" % cost if per_file else "%.2f s of CPU a GiB" % cost))
    fastest = max(ours or 0, best[0] if best else 0)
    if floor < fastest and sc.endswith("-rounds"):
        # In turn with the servers, through the same moments: doing less gained nothing,
        # so the servers' own work is not what limits the row (which limit is, the client's
        # or the machine's, the CPU figures say). A bound it is not.
        note += (": no faster than the servers in the same rounds, so not a server's work but"
                 " the client or the machine limits this row")
    elif floor < fastest:
        note += ": below a server's own figure, so no bound in this run"
    elif best and floor < value * best[0]:  # so ferroftpd, above the floor, missed it too
        note += ": the goal, %s, is beyond any server with this client here" % fmt(value * best[0])
    return [note]


def steal_share(rec):
    """The share of the machine's CPU time the host took (steal) during one server's runs
    of a scenario: another tenant of a shared machine, which the server cannot help."""
    runs = [r for r in (rec or {}).get("runs", []) if r.get("steal_s") is not None and r.get("wall_s")]
    wall = sum(r["wall_s"] for r in runs) * (os.cpu_count() or 1)
    return sum(r["steal_s"] for r in runs) / wall if wall else None


def steal_note(by, sc, tls, best):
    """A note when the host took 5% or more of the CPU during ferroftpd's or the best
    peer's runs of a row: their figures then compare moments as much as servers."""
    shares = [(steal_share(by.get(label, {}).get((sc, tls))), label) for label in [OURS] + ([best[1]] if best else [])]
    if not any(v is not None and v >= 0.05 for v, _ in shares):
        return ""
    return "; CPU stolen by the host during the runs: " + ", ".join(
        "%s %.0f%%" % (label, 100 * v) for v, label in shares if v is not None)


def ratio_text(ratio, goal):
    """A ratio to 2 decimals; to 3 where 2 would round a miss up to the goal (1.196x
    would read 1.20x against a goal of 1.2x, and be marked not met)."""
    if ratio is None:
        return "-"
    if goal is not None and ratio < goal <= round(ratio, 2):
        return "%.3fx" % ratio
    return "%.2fx" % ratio


def goal_table(by, limits, floors):
    # ferroftpd-nocache and the like are ferroftpd in another setting, not peers.
    peers = [label for label in by if not label.startswith(OURS) and label != FLOOR]
    out = ["| goal | best peer (median) | ferroftpd median (min-max) | ratio | goal | met |",
           "|---|---|---|---|---|---|"]
    for title, sc, tls, metric, higher, kind, value in GOALS:
        ours, rec = median(by, OURS, sc, tls, metric)
        if rec is None and kind != "all":
            continue
        cands = []
        for p in peers:
            v, _ = median(by, p, sc, tls, metric)
            if v is not None and v > 0:
                cands.append((v, p))
        best = (max(cands) if higher else min(cands)) if cands else None
        ratio = None
        if ours is not None and best and ours > 0:
            ratio = ours / best[0] if higher else best[0] / ours
        best_s = "%s %s" % (best[1], fmt(best[0])) if best else "-"
        if kind == "all":
            if rec is None:
                continue
            runs = [x for x in rec.get("runs", []) if x.get("requested") == value]
            errs = sum(x.get("open_errors", 0) or 0 for x in runs)
            ours_s = "%s of %d alive, %d refused or failed" % (fmt(ours), value, errs) if runs else "not run"
            met = "yes" if ours is not None and ours >= value and errs == 0 else "no"
            out.append("| %s | - | %s | - | all %d, none refused | %s |" % (title, ours_s, value, met))
            continue
        ours_s = fmt(ours) + spread(rec, metric)
        ratio_s = ratio_text(ratio, value if kind == "ratio" else None)
        if kind == "ratio":
            goal_s = (">= %.1fx" % value) if higher else ("<= %.1fx the time" % (1 / value))
            met = "-" if ratio is None else ("yes" if ratio >= value else "no")
            goal = value * best[0] if best and higher else None   # the figure the goal asks for
            peak = best[0] if best and higher else None   # what a peer reached with this client
            if sc == "retr-big" and tls == "none":
                # Two parts: vsftpd's figure and 95% of loopback; the goal is the larger.
                vs, _ = median(by, "vsftpd", sc, tls, metric)
                lo = (limits or {}).get("loopback_tcp_iperf3_1stream", {}).get("median")
                extra = []
                if vs and ours:
                    extra.append("%.2fx vsftpd" % (ours / vs))
                if lo and ours:
                    extra.append("%.0f%% of loopback iperf3 (%s)" % (100 * ours / lo, fmt(lo)))
                if extra:
                    ratio_s += "; " + "; ".join(extra)
                goal_s = ">= 1.0x vsftpd, >= 95% of loopback"
                ok = [ours is not None and vs is not None and ours >= vs]
                if lo:
                    ok.append(ours is not None and ours >= 0.95 * lo)
                met = "yes" if all(ok) else "no"
                goal = max(vs or 0, 0.95 * lo if lo else 0) or None
                fl = floor_of(floors, "retr_sendfile_MB_per_s")
                if fl and ours:
                    ratio_s += share(ours, fl, "bare sendfile (%s)" % fmt(fl["median"]), "bare sendfile here",
                                     met, goal, peak)
            cap = client_ceiling(by, sc, tls, metric) if higher else None
            if met == "no" and goal and cap and cap < goal:
                ratio_s += "; the client alone caps it at %s (its least CPU per unit in this run, %s core%s): the goal, %s, is beyond this client" % (
                    fmt(cap), "1" if sc in ONE_CORE else os.cpu_count(), "" if sc in ONE_CORE else "s",
                    fmt(goal))
            if sc in ("retr-big", "retr-big-rounds") and tls == "none":
                # What curl takes in from a bare sendfile: no server gives curl more.
                fc = floor_of(floors, "retr_curl_MB_per_s")
                if fc and ours:
                    ratio_s += share(ours, fc, "curl's floor, bare sendfile to curl (%s)" % fmt(fc["median"]),
                                     "curl here", met, goal, peak)
            if sc in ("retr-big", "retr-big-rounds") and tls == "explicit":
                fl = floor_of(floors, "retr_tls_curl_MB_per_s")
                if fl and ours:
                    ratio_s += share(ours, fl, "curl's TLS floor (%s)" % fmt(fl["median"]), "curl here", met, goal,
                                     peak)
            if sc in ("stor-big", "stor-big-rounds") and tls == "explicit":
                fl = floor_of(floors, "stor_tls_curl_MB_per_s")
                if fl and ours:
                    ratio_s += share(ours, fl, "curl's TLS upload floor (%s)" % fmt(fl["median"]), "curl here",
                                     met, goal, peak)
                # The same receiver writing a file: what a server that keeps the upload can reach.
                ff = floor_of(floors, "stor_tls_curl_file_MB_per_s")
                if ff and ours:
                    ratio_s += share(ours, ff, "it into a file (%s, %s-%s)" % (
                        fmt(ff["median"]), fmt(ff["min"]), fmt(ff["max"])), "that", met, goal, peak)
            if sc in ("retr-big-native", "retr-big-native-rounds", "retr-big-py") and tls == "none":
                # The same file by bare sendfile to a reader that does nothing else.
                fl = floor_of(floors, "retr_sendfile_MB_per_s")
                if fl and ours:
                    ratio_s += share(ours, fl, "bare sendfile (%s)" % fmt(fl["median"]), "bare sendfile here",
                                     met, goal, peak)
            if sc in ("retr-big-native", "retr-big-native-rounds") and tls == "explicit":
                # The native client costs little: loopback TCP itself, unencrypted, bounds it.
                lo = (limits or {}).get("loopback_tcp_iperf3_1stream")
                if lo and ours:
                    ratio_s += share(ours, lo, "loopback iperf3 (%s, no TLS)" % fmt(lo["median"]),
                                     "loopback itself", met, goal, peak)
            if sc.startswith("stor-big") and tls == "none":
                fl = floor_of(floors, "stor_bare_MB_per_s")
                if fl:
                    ratio_s += "; bare upload %s (%s-%s)" % (fmt(fl["median"]), fmt(fl["min"]), fmt(fl["max"]))
            ratio_s += steal_note(by, sc, tls, best)
            notes = []
            rounds = sc.endswith("-rounds")
            if sc.endswith("-big-native") or sc.startswith("small-files-native") or rounds:
                notes = server_notes(by, peers, sc, tls, sc.startswith("small-files"))
            if sc.startswith("small-files") or (sc[:8] in ("stor-big", "retr-big") and rounds):
                notes += floor_note(by, sc, tls, metric, best, value, ours)
            ratio_s += "".join("; " + n for n in notes)
            if sc == "list-big" and floors and floors.get("list_stat_s"):
                fl = floors["list_stat_s"]
                ratio_s += "; readdir+stat alone, one core: %.1f ms" % (1000 * fl)
        elif kind == "max":
            goal_s = "<= %g" % value
            met = "-" if ours is None else ("yes" if ours <= value else "no")
        else:
            goal_s, met = "-", "-"
        out.append("| %s | %s | %s | %s | %s | %s |" % (title, best_s, ours_s, ratio_s, goal_s, met))
    return "\n".join(out)


def header(recs, limits, log):
    dates = sorted(r["date"] for r in recs if r.get("date"))
    # Files without the harness's machine record (the rounds alone) describe this machine.
    m = next((r.get("machine") for r in recs if r.get("machine")), None) or {
        "cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        mem = ", %.0f GiB" % (kib / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    lines = ["Run: %s to %s (UTC). Machine: %s CPUs%s, Linux %s, Python %s, %s." % (
        dates[0] if dates else "?", dates[-1] if dates else "?", m.get("cpus", "?"), mem,
        m.get("kernel", "?"), m.get("python", "?"), (m.get("curl") or "curl ?").split(" (")[0])]
    loads = sorted({" ".join(r.get("loadavg_at_start", [])) for r in recs if r.get("loadavg_at_start")})
    if loads:
        lines.append("Load average at the start of each server's runs: %s." % ", ".join(loads[:12]))
    if log and os.path.exists(log):
        with open(log) as f:
            skipped = [ln.strip() for ln in f if ln.startswith("skipped:") or "install failed" in ln]
        lines.extend(skipped)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", help="the run's log (for skipped peers)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    recs, by, limits, floors = load(a.files)
    print(header(recs, limits, a.log))
    print()
    print("Ratios are ferroftpd's median over the best peer's median in the same run (for times:"
          " the best peer's time over ferroftpd's, so higher is better everywhere).")
    print()
    print(goal_table(by, limits, floors))
    cached, _ = median(by, OURS, "logins", "none", "logins_per_s")
    uncached, _ = median(by, OURS + "-nocache", "logins", "none", "logins_per_s")
    if uncached is not None:
        print()
        print("Password cache (plain logins/s, the peers' SHA-512-crypt hash): on %s, off %s."
              % (fmt(cached), fmt(uncached)))
    if os.path.exists(SHARED_REPORT):
        print()
        print("Every server, every metric (the shared harness's report.py):")
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, SHARED_REPORT] + a.files, check=False)


if __name__ == "__main__":
    main()
