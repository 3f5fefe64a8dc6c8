#!/usr/bin/env python3
"""Fully cold first start of programs: static, shared (installed in a cargo-share store), and
shared after `cargo share preload`.

Each round and program, in an order that alternates between rounds:
  1. drop the page cache, then time `PROGRAM --version` of the static build;
  2. drop it again, then time the store-installed (shared) program;
  3. drop it again, run `cargo share preload --quiet` on the store, then time the shared program.
Besides wall time, each start's reads from disk are counted (getrusage of the child: blocks
read, `ru_inblock`, in 512-byte units, and major page faults): they do not depend on what else
the machine runs, where wall time on a busy machine does.

The drop is the whole page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`, root only:
`--drop global`, the C library and the loader included) or each file of both builds
(`posix_fadvise(POSIX_FADV_DONTNEED)`, no root needed: `--drop per-file`, the C library and the
loader stay cached, as in `cargo share bench`).

Usage:
  scripts/cold-start.py --static-bin DIR --root ROOT --store STORE [--cargo-share BIN]
                        [--rounds N] [--drop global|per-file] [--fifo PRIORITY] PROGRAM...
PROGRAM is a binary name found in both DIR (the static builds, e.g. a bench's
WORK/stripped/static/bin) and ROOT/bin (where `cargo share install --root ROOT` linked it).
Prints a Markdown table of medians.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time


def files_under(path):
    out = []
    for base, _, names in os.walk(path):
        out.extend(os.path.join(base, n) for n in names)
    return [f for f in out if os.path.isfile(f) and not os.path.islink(f)]


def drop(mode, files):
    if mode == "global":
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def start(binary):
    """Wall milliseconds, KB read from disk and major faults of one `BINARY --version`."""
    t = time.perf_counter()
    proc = subprocess.Popen([binary, "--version"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter() - t) * 1e3
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{binary} --version exited with {proc.returncode}")
    return elapsed, usage.ru_inblock / 2, usage.ru_majflt


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--static-bin", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--cargo-share", default="cargo-share")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--drop", choices=["global", "per-file"], default="global")
    p.add_argument("--fifo", type=int, metavar="PRIORITY",
                   help="run under SCHED_FIFO at this priority (root), inherited by every "
                        "process started: on a busy machine, starts then wait for the disk, "
                        "not for other processes' CPU time")
    p.add_argument("programs", nargs="+")
    a = p.parse_args()
    if a.fifo:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(a.fifo))
    files = files_under(a.static_bin) + files_under(os.path.join(a.store, "programs")) \
        + files_under(os.path.join(a.store, "entries"))
    samples = {prog: {"static": [], "shared": [], "preloaded": []} for prog in a.programs}
    preload_ms = []
    for r in range(a.rounds):
        order = a.programs if r % 2 == 0 else list(reversed(a.programs))
        for prog in order:
            static = os.path.join(a.static_bin, prog)
            shared = os.path.realpath(os.path.join(a.root, "bin", prog))
            drop(a.drop, files)
            samples[prog]["static"].append(start(static))
            drop(a.drop, files)
            samples[prog]["shared"].append(start(shared))
            drop(a.drop, files)
            t = time.perf_counter()
            subprocess.run([a.cargo_share, "share", "--store", a.store, "preload", "--quiet"],
                           check=True)
            preload_ms.append((time.perf_counter() - t) * 1e3)
            samples[prog]["preloaded"].append(start(shared))
    med = statistics.median
    print(f"drop: {a.drop}; {a.rounds} rounds; "
          f"{'SCHED_FIFO ' + str(a.fifo) if a.fifo else 'normal scheduling'}; preload itself took {med(preload_ms):.1f} ms "
          "(median, from a cold cache)\n")
    print("| program | static ms (KB read, faults) | shared ms (KB, faults) | shared/static "
          "| after preload ms (KB, faults) | after preload/static |")
    print("|---|---|---|---|---|---|")
    ratios = {"shared": [], "preloaded": []}
    for prog in a.programs:
        s = samples[prog]
        ms = {k: med(x[0] for x in v) for k, v in s.items()}
        read = {k: f"{med(x[1] for x in v):.0f} KB, {med(x[2] for x in v):.0f}"
                for k, v in s.items()}
        for k in ratios:
            ratios[k].append(ms[k] / ms["static"])
        print(f"| {prog} | {ms['static']:.1f} ({read['static']}) "
              f"| {ms['shared']:.1f} ({read['shared']}) | {ms['shared'] / ms['static']:.2f}x "
              f"| {ms['preloaded']:.1f} ({read['preloaded']}) "
              f"| {ms['preloaded'] / ms['static']:.2f}x |")
    print(f"\nmedian ratio: shared {med(ratios['shared']):.2f}x "
          f"({min(ratios['shared']):.2f}x-{max(ratios['shared']):.2f}x), "
          f"after preload {med(ratios['preloaded']):.2f}x "
          f"({min(ratios['preloaded']):.2f}x-{max(ratios['preloaded']):.2f}x) of static")


if __name__ == "__main__":
    main()
