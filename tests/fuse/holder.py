#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hold a file and a directory of an image while the image is removed.

usage: holder.py FILE DIR NAME_IN_DIR READY_FLAG GO_FLAG

Opens FILE and reads its first 4 KiB, makes DIR its working directory and
stats NAME_IN_DIR there (so the kernel caches both), then creates
READY_FLAG and waits for GO_FLAG (the image is removed meanwhile).  Then it
reads FILE to the end and prints its sha256, and prints "stale-ok" if
NAME_IN_DIR, looked up again from the working directory, is gone (ENOENT),
else "stale-resolves".
"""
import hashlib
import os
import sys
import time

path, d, name, ready, go = sys.argv[1:6]
f = open(path, "rb", buffering=0)
h = hashlib.sha256()
h.update(f.read(4096))
os.chdir(d)
os.stat(name)
open(ready, "w").close()
for _ in range(600):
    if os.path.exists(go):
        break
    time.sleep(0.05)
while True:
    b = f.read(65536)
    if not b:
        break
    h.update(b)
print(h.hexdigest())
try:
    os.stat(name)
    print("stale-resolves")
except FileNotFoundError:
    print("stale-ok")
