#!/usr/bin/env python3
"""bench/targets.py OUT: every speed and memory target of the applet issues,
read off the results the bench left in OUT (hyperfine's JSON, and the peak
RSS that `compare` writes beside it), as the closing section of
bench/REPORT.md: what was asked, what was measured, met or not, and for a
missed target what we found when we profiled it.

A case the run did not measure (BENCH_SECTIONS, a failed case) is listed as
'not measured', never as met."""

import glob
import json
import os
import re
import statistics
import sys

OUT = sys.argv[1]


def results(case):
    """{label: (median seconds, peak RSS KiB or None)} for one case."""
    name = re.sub(r"[^A-Za-z0-9]", "_", case + "\n") + ".json"
    paths = glob.glob(os.path.join(OUT, "**", name), recursive=True)
    if not paths:
        return {}
    runs = json.load(open(paths[0]))["results"]
    rss = []
    if os.path.exists(paths[0] + ".rss"):
        rss = [int(x) if x.strip().isdigit() else None for x in open(paths[0] + ".rss")]
    rss += [None] * (len(runs) - len(rss))
    return {r["command"]: (statistics.median(r["times"]), k) for r, k in zip(runs, rss)}


def ratio(case, ours, theirs):
    """The median of `ours` over `theirs` in `case`, or None."""
    r = results(case)
    if ours not in r or theirs not in r:
        return None
    return r[ours][0] / r[theirs][0]


def rss_pair(case, ours, theirs):
    r = results(case)
    a, b = r.get(ours, (0, None))[1], r.get(theirs, (0, None))[1]
    return (a, b) if a is not None and b is not None else None


# Each target: issue, what was asked, a function giving (measured text, met),
# or None when not measured, and what we found where it is missed.
TARGETS = []


def at_most(issue, asked, case, ours, theirs, limit, why=""):
    def check():
        v = ratio(case, ours, theirs)
        return None if v is None else (f"{v:.2f}", v <= limit)

    TARGETS.append((issue, asked, check, why))


def faster_by(issue, asked, case, ours, theirs, factor, why=""):
    def check():
        v = ratio(case, theirs, ours)
        return None if v is None else (f"{v:.1f}x", v >= factor)

    TARGETS.append((issue, asked, check, why))


def rss_no_higher(issue, asked, case, ours, theirs, why=""):
    def check():
        p = rss_pair(case, ours, theirs)
        return None if p is None else (f"{p[0]} vs {p[1]} KiB", p[0] <= p[1])

    TARGETS.append((issue, asked, check, why))


STARTUP = (
    "The difference to the floor is the start-up of a Rust program: the C "
    "library's static start-up (relocation, tunables), clap building and "
    "parsing the command line, and the page faults of a 1.9 MB binary; what "
    "we make the kernel do is the floor's own set of system calls."
)
FORK = (
    STARTUP + " With --fork our child is spawned, not forked: clone with "
    "CLONE_VM and CLONE_VFORK, as posix_spawn does (process::Spawn), so it "
    "shares our memory and page tables until its exec instead of faulting "
    "our code back in and copying on write what either process writes "
    "(perf, page faults until exec: 70 in ours and none in its child, "
    "against 33 and 8 for the floor; a fork took 83 and 28, util-linux "
    "takes 85 and 23). Options that need more of the child (--root, --wd, "
    "--setuid, --hostname, --X=FILE, -T, ...) still fork."
)
for case in [
    "unshare -r /bin/true",
    "unshare -rmpf --mount-proc /bin/true",
    "unshare -Uuinm /bin/true (root)",
]:
    at_most("#2", f"`{case}`: ours ÷ util-linux ≤ 1.00", case, "ours", "util-linux", 1.00)
    why = FORK if "-rmpf" in case else STARTUP
    at_most("#2", f"`{case}`: ours ÷ floor ≤ 1.20", case, "ours", "floor", 1.20, why)
    rss_no_higher(
        "#2",
        f"`{case}`: peak RSS no higher than util-linux's",
        case,
        "ours",
        "util-linux",
        "The resident set of a static binary is the 64 KiB windows of it "
        "that the kernel maps around each page fault (fault-around), not "
        "the code that runs: a run that touches one more window costs 64 "
        "KiB more, and util-linux's own figure moves by as much from run to run.",
    )

at_most("#3", "`nsenter -t PID -a`: ours ÷ util-linux ≤ 1.00", "nsenter -t PID -a", "ours", "util-linux", 1.00)
NSENTER_FORK = (
    STARTUP + " nsenter makes a child for the PID namespace; like unshare's "
    "with --fork it is spawned, not forked (process::Spawn: clone with "
    "CLONE_VM and CLONE_VFORK, the switch of ids and the environment "
    "prepared for it), so our page tables are not copied and neither "
    "process faults our code back in or copies on write (perf stat, page "
    "faults of the whole run: 108 against 87 for the floor; the fork took "
    "140). --keep-caps still forks."
)
at_most("#3", "`nsenter -t PID -a`: ours ÷ floor ≤ 1.20", "nsenter -t PID -a", "ours", "floor", 1.20, NSENTER_FORK)
at_most(
    "#3",
    "`setns-run` on a /run/netns file ÷ `ip netns exec` (well ahead)",
    "one /run/netns file",
    "ours",
    "ip netns exec",
    1.00,
)

for case in ["newuidmap 0 100000 65536", "newgidmap 0 100000 65536"]:
    at_most(
        "#4",
        f"`{case.split()[0]}` alone: ours ÷ shadow ≤ 1.00",
        case,
        "ours",
        "shadow",
        1.00,
        "Each run also makes and tears down the user namespace it maps "
        "(mapper-run, the same for both rows); that teardown, done by the "
        "kernel in the background, lands in some runs and not others, so "
        "the medians of the two rows move by a millisecond together.",
    )
at_most(
    "#4",
    "`unshare --map-auto`: ours ÷ util-linux+shadow ≤ 1.00",
    "unshare --map-auto /bin/true",
    "ours",
    "util-linux+shadow",
    1.00,
)

faster_by("#5", "tree of 10k mounts at least 10x faster than findmnt's tree", "tree, 10k mounts", "mountprop", "findmnt tree", 10)
for k in ["1k", "10k", "30k"]:
    at_most(
        "#5",
        f"tree of {k} mounts within 2x of reading mountinfo",
        f"tree vs the floor, {k} mounts",
        "mountprop",
        "cat mountinfo",
        2.00,
    )
    at_most("#5", f"`--list` of {k} mounts no slower than `findmnt -l`", f"list, {k} mounts", "mountprop --list", "findmnt -l", 1.00)


def linear():
    r1 = results("tree vs the floor, 1k mounts").get("mountprop")
    r30 = results("tree vs the floor, 30k mounts").get("mountprop")
    if not r1 or not r30:
        return None
    growth = r30[0] / r1[0]
    return (f"{growth:.1f}x the time for 30x the mounts", growth <= 30 * 1.25)


TARGETS.append(("#5", "time grows linearly with the mount count (1k to 30k)", linear, ""))

NETNS_KERNEL = (
    "Creating a network namespace is ~0.3 ms in the kernel (perf: sysctl "
    "and proc registration in setup_net); a batch add does little else "
    "(unshare, mknod and mount for each name, spread over the CPUs), so the "
    "ratio is bounded by how much a fork and exec of ip adds to that, and "
    "by how busy the kernel still is tearing down the previous run's namespaces."
)
for case, ours, ip in [
    ("add+delete 1,000", "ours, one call each", "ip netns, a loop"),
    ("add+delete 1,000", "ours, a loop", "ip netns, a loop"),
    ("exec NAME /bin/true", "ours", "ip netns exec"),
    ("list (1,000 names)", "ours", "ip netns list"),
    ("classic scenario", "ours", "ip"),
]:
    at_most("#6", f"{case}, {ours}: ours ÷ iproute2 ≤ 1.00", case, ours, ip, 1.00)


def add_ratio(ours):
    path = os.path.join(OUT, "netns-add.json")
    if not os.path.exists(path):
        return None
    med = {r["command"]: statistics.median(r["times"]) for r in json.load(open(path))["results"]}
    ip = med.get("ip netns, a loop")
    mine = next((v for k, v in med.items() if k.startswith(ours)), None)
    return None if ip is None or mine is None else ip / mine


def batch_add():
    v = add_ratio("ours, one call")
    return None if v is None else (f"{v:.1f}x", v >= 5)


TARGETS.append(("#6", "add of 1,000 in one call at least 5x faster than a loop of `ip netns add`", batch_add, NETNS_KERNEL))


def main():
    print("\n## Targets\n")
    print("Every speed and memory target of the applet issues, read off the tables above.\n")
    print("| issue | target | measured | met |")
    print("|---|---|---:|---|")
    missed = []
    for issue, asked, check, why in TARGETS:
        got = check()
        if got is None:
            print(f"| {issue} | {asked} | not measured | |")
            continue
        text, met = got
        print(f"| {issue} | {asked} | {text} | {'yes' if met else '**no**'} |")
        if not met:
            missed.append((issue, asked, why))
    if missed:
        print("\nWhere a target is missed:\n")
        for issue, asked, why in missed:
            print(f"- {issue}, {asked}: {why or 'not yet explained: see the closing note.'}")


main()
