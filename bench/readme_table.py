#!/usr/bin/env python3
"""The README's "Last full run" table from a `make bench` report (bench/report.py's output).

usage: python3 bench/readme_table.py bench/results/report-STAMP.md

The report's goal table names every goal in full and explains every bound; the README
shows the same rows shortly: a short name, the ratio, and of each note only its figure
(the share of a floor, the client's cap, the bare server's figure, ferroftpd's CPU a GiB
or a file). LIST and MLSD share a row, as do the two PSS goals and the two 10,000-session
goals; a shared row is met when both parts are. Prints the table, then how many rows met.
Standard library only.
"""
import re
import sys

# The report's title -> the README's row (rows named twice are merged, in this order).
SHORT = {
    "RETR 1 GiB, plain (MB/s)": "RETR plain, curl",
    "STOR 1 GiB, plain (MB/s)": "STOR plain, curl",
    "RETR 1 GiB, explicit TLS (MB/s)": "RETR TLS, curl",
    "STOR 1 GiB, explicit TLS (MB/s)": "STOR TLS, curl",
    "STOR 1 GiB, plain, servers in turn round by round (MB/s)": "STOR plain, rounds, curl",
    "STOR 1 GiB, explicit TLS, servers in turn round by round (MB/s)": "STOR TLS, rounds, curl",
    "STOR 1 GiB, plain, servers in turn round by round, native client (MB/s)": "STOR plain, rounds, native",
    "STOR 1 GiB, explicit TLS, servers in turn round by round, native client (MB/s)":
        "STOR TLS, rounds, native",
    "RETR 1 GiB, plain, servers in turn round by round (MB/s)": "RETR plain, rounds, curl",
    "RETR 1 GiB, explicit TLS, servers in turn round by round (MB/s)": "RETR TLS, rounds, curl",
    "RETR 1 GiB, plain, servers in turn round by round, native client (MB/s)": "RETR plain, rounds, native",
    "RETR 1 GiB, explicit TLS, servers in turn round by round, native client (MB/s)":
        "RETR TLS, rounds, native",
    "RETR 1 GiB, plain, Python client (MB/s)": "RETR plain, Python",
    "STOR 1 GiB, plain, Python client (MB/s)": "STOR plain, Python",
    "RETR 1 GiB, explicit TLS, Python client (MB/s)": "RETR TLS, Python",
    "STOR 1 GiB, explicit TLS, Python client (MB/s)": "STOR TLS, Python",
    "RETR 1 GiB, plain, native client (MB/s)": "RETR plain, native",
    "STOR 1 GiB, plain, native client (MB/s)": "STOR plain, native",
    "RETR 1 GiB, explicit TLS, native client (MB/s)": "RETR TLS, native",
    "STOR 1 GiB, explicit TLS, native client (MB/s)": "STOR TLS, native",
    "small files 4 KiB up+down, plain (files/s)": "small files plain, harness",
    "small files, explicit TLS, session reuse (files/s)": "small files TLS, harness",
    "small files, plain, a process per session (files/s)": "small files plain, a process per session",
    "small files, explicit TLS, a process per session (files/s)": "small files TLS, a process per session",
    "small files, plain, native client (files/s)": "small files plain, native",
    "small files, explicit TLS 1.3, native client (files/s)": "small files TLS 1.3, native",
    "small files, explicit TLS 1.2, native client (files/s)": "small files TLS 1.2, native",
    "small files, plain, servers in turn, harness's client (files/s)": "rounds: plain, harness",
    "small files, explicit TLS, servers in turn, harness's client (files/s)": "rounds: TLS, harness",
    "small files, plain, servers in turn, a process per session (files/s)":
        "rounds: plain, a process per session",
    "small files, explicit TLS, servers in turn, a process per session (files/s)":
        "rounds: TLS, a process per session",
    "small files, plain, servers in turn, native client (files/s)": "rounds: plain, native",
    "small files, explicit TLS 1.3, servers in turn, native client (files/s)": "rounds: TLS 1.3, native",
    "small files, explicit TLS 1.2, servers in turn, native client (files/s)": "rounds: TLS 1.2, native",
    "logins/s, plain (connect, USER, PASS, QUIT)": "logins/s, plain",
    "LIST 10,000 entries, plain (s)": "LIST / MLSD plain (s)",
    "MLSD 10,000 entries, plain (s)": "LIST / MLSD plain (s)",
    "LIST 10,000 entries, TLS (s)": "LIST / MLSD TLS (s)",
    "MLSD 10,000 entries, TLS (s)": "LIST / MLSD TLS (s)",
    "idle session, PSS KiB @1000, plain": "idle session PSS @1000, plain / TLS",
    "idle session, PSS KiB @1000, TLS": "idle session PSS @1000, plain / TLS",
    "10,000 logged-in sessions, plain: alive": "10,000 logged-in sessions, plain / TLS",
    "10,000 logged-in sessions, TLS: alive": "10,000 logged-in sessions, plain / TLS",
}

# What of a note the README keeps: the share of a bound (with the bound's verdict in a
# word), the client's cap, the bare server's figure, and ferroftpd's own CPU.
NOTES = [
    # The plain RETR goal's vsftpd part: already the ratio when vsftpd is the best peer.
    (re.compile(r"^(\d+\.\d+x vsftpd)$"), "vsftpd"),
    (re.compile(r"^(\d+% of loopback iperf3) \(([\d.]+)(, no TLS)?\)(.*)$"), "{0} ({1}{2}){v}"),
    (re.compile(r"^(\d+% of curl's floor), bare sendfile to curl \([^)]*\)(.*)$"), "{0}{v}"),
    (re.compile(r"^(\d+% of [^(]+?) \([^)]*\)(.*)$"), "{0}{v}"),
    (re.compile(r"^the client alone caps it at ([\d.]+)"), "the client alone caps it at {0}"),
    (re.compile(r"^bare server \(bench/smallfloor\.rs\), same client: ([\d.]+ (?:files/s|MB/s))"),
     "bare server {0}"),
    (re.compile(r"^bare upload ([\d.]+)"), "bare upload {0}"),
    (re.compile(r"^server CPU a (GiB|file): .*?\bferroftpd ([\d.]+ (?:s|ms))"), "{1} a {0}"),
    (re.compile(r"^readdir\+stat alone, one core: ([\d.]+) ms"), "readdir+stat alone {0} ms"),
    (re.compile(r"^(CPU stolen by the host.*)$"), "{0}"),
    (re.compile(r"^(.+? failed: .*)$"), "{0}"),
    (re.compile(r"^(.+?: \d+ runs? made again after): "), "{0}"),
]
# Goals the README leaves out: no goal to meet.
SKIPPED = {"logins/s, explicit TLS (no goal)"}


def verdict(rest):
    """The bound's verdict, shortly: whether it bounds anything, and whether the goal is
    beyond it."""
    if "above its best" in rest:
        return " (no bound this run)"
    m = re.search(r"the goal, ([\d.]+), is beyond", rest)
    return " (the goal, %s, is beyond it)" % m.group(1) if m else ""


def short_notes(cell, best):
    parts = [p.strip() for p in cell.split("; ")]
    out = [parts[0]]
    for p in parts[1:]:
        for rx, form in NOTES:
            m = rx.match(p)
            if not m:
                continue
            if form == "vsftpd":
                if not best.startswith("vsftpd "):
                    out.append(m.group(1))
                break
            groups = [g or "" for g in m.groups()]
            rest = groups[-1] if "{v}" in form else ""
            out.append(form.format(*groups, v=verdict(rest)))
            break
        else:
            # A note this script does not know yet: shown whole, and said, so a new note
            # in bench/report.py is not lost from the README without a word.
            print("readme_table.py: a note kept whole: %s" % p, file=sys.stderr)
            out.append(p)
    return "; ".join(out)


def goal_rows(path):
    """(title, best peer, ferroftpd, ratio cell, goal, met) of the report's goal table."""
    rows, inside = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("| goal | best peer"):
                inside = True
                continue
            if inside and line.startswith("|---"):
                continue
            if inside and not line.startswith("|"):
                break
            if inside:
                cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
                if len(cells) == 6:
                    rows.append(cells)
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    merged = {}
    for title, best, ours, ratio, goal, met in goal_rows(sys.argv[1]):
        name = SHORT.get(title)
        if name is None:
            if title not in SKIPPED:
                print("readme_table.py: a goal with no README row: %s" % title, file=sys.stderr)
            continue
        ours = re.sub(r" \([\d.]+-[\d.]+\)$", "", ours)   # the README shows medians only
        merged.setdefault(name, []).append((title, best, ours, short_notes(ratio, best), goal, met))
    print("| row | best peer | ferroftpd | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    met_rows = 0
    for name, parts in merged.items():
        if len(parts) == 1:
            _, best, ours, ratio, goal, met = parts[0]
        elif name.startswith("LIST"):
            peers = [p[1].rsplit(" ", 1) for p in parts]
            same = all(len(b) == 2 for b in peers) and peers[0][0] == peers[1][0]
            best = ("%s %s / %s" % (peers[0][0], peers[0][1], peers[1][1]) if same
                    else " / ".join(p[1] for p in parts))
            ours = " / ".join(p[2] for p in parts)
            # The two ratios, then each note once (both name the same readdir+stat floor).
            heads = [p[3].split("; ") for p in parts]
            notes = [n for h in heads for n in h[1:]]
            ratio = "; ".join([" / ".join(h[0] for h in heads)] + list(dict.fromkeys(notes)))
            goal = parts[0][4]
            mets = [p[5] for p in parts]
            met = mets[0] if mets[0] == mets[1] else "LIST %s, MLSD %s" % tuple(mets)
            if "no" not in mets and "yes" in mets:
                met = "yes"   # a part with no peer to compare has no goal to miss
        else:   # the PSS goals and the 10,000 sessions: no peer, met when both parts are
            best, ratio = "-", "-"
            unit = " KiB" if name.startswith("idle") else ""
            ours = " / ".join(p[2] for p in parts) + unit
            goal = " / ".join(dict.fromkeys(p[4] for p in parts))
            met = "yes" if all(p[5] == "yes" for p in parts) else "no"
        if met == "yes":
            met_rows += 1
        print("| %s | %s | %s | %s | %s | %s |" % (name, best, ours, ratio, goal, met))
    print()
    print("%d of the %d rows met." % (met_rows, len(merged)))


if __name__ == "__main__":
    main()
