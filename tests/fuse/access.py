# SPDX-License-Identifier: MIT
"""access(2) and open(2) of every entry of KDIR and FDIR as several users.

usage: access.py KDIR FDIR UID:GID...

KDIR is the kernel's mount of an image, FDIR the same image through
erofs-share-fuse (mounted with allow_other).  For each user, a child process
drops to that user and, for every entry, compares access() with R_OK, W_OK
and X_OK and whether open(O_RDONLY) succeeds.  Prints each difference;
exit status 1 if there is one.
"""
import os
import sys


def entries(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        for n in dirnames + filenames:
            out.append(os.path.normpath(os.path.join(rel, n)))
    return sorted(out)


def probe(path):
    res = []
    for mode in (os.R_OK, os.W_OK, os.X_OK):
        res.append(os.access(path, mode, follow_symlinks=False))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        os.close(fd)
        res.append("open")
    except OSError as e:
        res.append(e.errno)
    return res


def main():
    kdir, fdir, users = sys.argv[1], sys.argv[2], sys.argv[3:]
    paths = entries(kdir)
    bad = 0
    for user in users:
        uid, gid = (int(x) for x in user.split(":"))
        pid = os.fork()
        if pid == 0:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            diffs = 0
            for p in paths:
                k = probe(os.path.join(kdir, p))
                f = probe(os.path.join(fdir, p))
                if k != f:
                    diffs += 1
                    if diffs <= 5:
                        print(f"uid {uid}: {p}: kernel {k}, fuse {f}")
            os._exit(1 if diffs else 0)
        _, status = os.waitpid(pid, 0)
        if status:
            bad += 1
    print(f"{len(paths)} entries, {len(users)} users, {bad} with differences")
    sys.exit(1 if bad else 0)


main()
