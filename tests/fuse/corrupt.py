#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Damage one inode of an uncompressed EROFS image, in place.

usage: corrupt.py IMAGE NID MODE layout|size

The inode of NID sits at meta_blkaddr * block_size + NID * 32 (the on-disk
format); its i_mode must equal MODE (read off the kernel's mount), else the
layout assumption is wrong and nothing is written (exit 1).
  type:   clear the file type bits of i_mode (no such file type);
  size:   set i_size far past the end of the image.
"""
import struct
import sys

path, nid, mode, what = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(path, "r+b") as f:
    d = bytearray(f.read())
    sb = 1024
    if struct.unpack_from("<I", d, sb)[0] != 0xE0F5E1E2:
        sys.exit("not an EROFS image")
    bsz = 1 << d[sb + 12]
    meta = struct.unpack_from("<I", d, sb + 40)[0] * bsz
    # the superblock checksum covers the superblock only; clear it anyway
    compat = struct.unpack_from("<I", d, sb + 8)[0]
    struct.pack_into("<I", d, sb + 8, compat & ~1)
    pos = meta + nid * 32
    fmt, _, imode = struct.unpack_from("<HHH", d, pos)
    if imode != mode & 0xFFFF:
        sys.exit("inode %d: mode %o, the kernel says %o" % (nid, imode, mode))
    if what == "type":
        struct.pack_into("<H", d, pos + 4, imode & 0o7777)
    elif fmt & 1:
        struct.pack_into("<Q", d, pos + 8, 1 << 40)
    else:
        struct.pack_into("<I", d, pos + 8, 0xFFFFF000)
    f.seek(0)
    f.write(d)
