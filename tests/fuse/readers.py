#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Processes reading files at random offsets, checked against the kernel.

usage: readers.py NPROC NREADS FUSE_PATH=KERNEL_PATH...

Each of NPROC processes makes NREADS preads of random offset and length on
random pairs, from the FUSE path and the kernel's path, and compares them.
Exit 0 if every read matched.
"""
import os
import random
import sys


def worker(seed, nreads, pairs):
    rnd = random.Random(seed)
    fds = [(os.open(f, os.O_RDONLY), os.open(k, os.O_RDONLY), os.fstat(os.open(k, os.O_RDONLY)).st_size, f)
           for f, k in pairs]
    for _ in range(nreads):
        ff, kf, size, name = rnd.choice(fds)
        off = rnd.randrange(0, size + 1)
        n = rnd.choice((1, 100, 4096, 5000, 65536, 200000))
        a, b = os.pread(ff, n, off), os.pread(kf, n, off)
        if a != b:
            print("mismatch: %s at %d, %d bytes" % (name, off, n))
            return 1
    return 0


def main():
    nproc, nreads = int(sys.argv[1]), int(sys.argv[2])
    pairs = [a.split("=", 1) for a in sys.argv[3:]]
    pids = []
    for i in range(nproc):
        pid = os.fork()
        if pid == 0:
            os._exit(worker(i * 7919 + 1, nreads, pairs))
        pids.append(pid)
    bad = 0
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        bad += st != 0
    sys.exit(1 if bad else 0)


main()
