#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Twins of two images, from their manifests (read off kernel mounts).

usage: twins.py MANIFEST_A MANIFEST_B KMOUNT_A KMOUNT_B

Prints one line per regular, non-empty file content found exactly once in
each image: "same" or "diff", then the two paths, tab-separated.  "same"
means the two files show equal attributes (mode, owner, size, mtime with
nanoseconds, nlink, xattrs, and st_blocks read off the kernel mounts).
"""
import os
import sys


def load(path):
    rows = {}
    for line in open(path, encoding="utf-8", errors="surrogateescape"):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        if f[1] != "reg" or f[5] == "0":
            continue
        rows.setdefault(f[11], []).append(f)
    return {k: v[0] for k, v in rows.items() if len(v) == 1}


def unescape(p):
    return p.encode("utf-8", "surrogateescape").decode("unicode_escape").encode(
        "latin-1").decode("utf-8", "surrogateescape")


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    for sha in sorted(set(a) & set(b)):
        fa, fb = a[sha], b[sha]
        if "\\" in fa[0] or "\\" in fb[0]:
            continue
        same = fa[2:9] == fb[2:9] and fa[12] == fb[12]
        if same:
            ba = os.lstat(sys.argv[3] + fa[0]).st_blocks
            bb = os.lstat(sys.argv[4] + fb[0]).st_blocks
            same = ba == bb
        print("%s\t%s\t%s" % ("same" if same else "diff", fa[0], fb[0]))


main()
