#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate a deterministic random directory tree for EROFS round-trip tests.

Usage:
    gentree.py [--big] [--no-root] [--max-name=N] SEED DIR

DIR must not exist or be an empty directory.  The same SEED (and the same
privileges and filesystem features) always gives the same tree: names,
contents, modes, owners, times and xattrs come from random.Random(SEED).

What the tree holds:
    files/    regular files of sizes 0, 1, 2, 3, 511..513, 4095..4097,
              8191..8193, 12289, 65535..65537, ~1 MiB (text, random, mixed)
    sparse/   files with holes made by seeking past the end (hole first, in
              the middle, trailing, only a hole, alternating, unaligned)
    dup/      identical contents under several names (dedup, fingerprints)
    dirs/     empty directory, a 30-level chain, and bigdir/ with 3000+
              entries of names 1..255 bytes (ASCII, UTF-8, odd bytes)
    names/    255-byte ASCII and UTF-8 names, NFC vs NFD, special bytes
    links/    symlinks with targets of 1..4095 bytes, dangling, loops
    hard/     hard-link groups of files, an empty file, a symlink, a fifo
    nodes/    fifos; char and block devices and a unix socket (root only)
    modes/    setuid, setgid, sticky, 07777, 0000, odd directory modes
    owners/   uids/gids above 65535 (root only)
    times/    mtimes with nanoseconds, before 1970 and after 2038
    xattr/    user.* (empty, small, 2000-byte values), trusted.* (root),
              xattrs on directories and shared by several files
    acl/      POSIX access and default ACLs (when setfacl works)

--max-name=N caps every name at N bytes (255 by default; mkfs.erofs 1.5
takes at most 254).  --big adds multi-MiB files and a large sparse file.  --no-root (or running
as an ordinary user) leaves out devices, sockets, foreign owners, trusted.*
xattrs and modes that would lock the tree for its own creator.

Standard library only (setfacl is run as a program when present).
"""

import os
import random
import shutil
import socket
import stat
import subprocess
import sys

BASE_TIME = 1700000000

WORDS = ('the of and to in is was for on that with as by at from his her they '
         'this which be or are had not but were have one all their there been '
         'erofs image block inode cache page share domain kernel read only '
         'compress cluster extent chunk device mount tree file directory link '
         'alpha beta gamma delta epsilon lambda omega zeta theta kappa sigma').split()


class Gen:
    def __init__(self, seed, root, big, as_root, max_name=255):
        self.rng = random.Random(seed)
        self.max_name = max_name
        self.seed = seed
        self.root = os.fsencode(os.path.abspath(root))
        self.big = big
        self.as_root = as_root
        # (path, mtime_ns, is_link): applied last, deepest first, so that
        # creating children does not bump a directory's mtime afterwards.
        self.stamps = []
        # (path, mode) for chmods that must come after everything else.
        self.late_modes = []
        self.user_xattrs = False
        self.trusted_xattrs = False
        self.acls = False

    # -- helpers -------------------------------------------------------

    def p(self, rel):
        if isinstance(rel, str):
            rel = rel.encode('utf-8')
        return self.root + b'/' + rel

    def text(self, n):
        out = []
        size = 0
        rng = self.rng
        while size < n:
            w = rng.choice(WORDS)
            if rng.random() < 0.08:
                w = w.capitalize() + '.'
            if rng.random() < 0.05:
                w += '\n'
            out.append(w)
            size += len(w) + 1
        return (' '.join(out).encode('ascii'))[:n]

    def random_bytes(self, n):
        return self.rng.randbytes(n)

    def mixed(self, n):
        parts = []
        size = 0
        rng = self.rng
        while size < n:
            k = rng.choice((1, 7, 100, 511, 4096, 5000, 20000))
            kind = rng.randrange(4)
            if kind == 0:
                b = self.text(k)
            elif kind == 1:
                b = self.random_bytes(k)
            elif kind == 2:
                b = bytes(k)
            else:
                b = (b'repeat-%d ' % rng.randrange(100)) * (k // 10 + 1)
                b = b[:k]
            parts.append(b)
            size += len(b)
        return b''.join(parts)[:n]

    def content(self, kind, n):
        if kind == 'text':
            return self.text(n)
        if kind == 'random':
            return self.random_bytes(n)
        if kind == 'zero':
            return bytes(n)
        return self.mixed(n)

    def mkdir(self, rel, mode=0o755):
        os.mkdir(self.p(rel))
        os.chmod(self.p(rel), mode)
        self.stamp(rel)

    def write(self, rel, data, mode=0o644, stamp=True):
        fd = os.open(self.p(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                k = os.write(fd, view)
                view = view[k:]
        finally:
            os.close(fd)
        os.chmod(self.p(rel), mode)
        if stamp:
            self.stamp(rel)

    def symlink(self, target, rel):
        if isinstance(target, str):
            target = target.encode('utf-8')
        os.symlink(target, self.p(rel))
        self.stamp(rel, link=True)

    def stamp(self, rel, ns=None, link=False):
        if ns is None:
            # Most entries get the base time; some get a random time with
            # nanoseconds so that every image keeps some per-file mtimes.
            if self.rng.random() < 0.2:
                ns = (BASE_TIME + self.rng.randrange(-10**8, 10**8)) * 10**9 + \
                    self.rng.randrange(10**9)
            else:
                ns = BASE_TIME * 10**9
        self.stamps.append((self.p(rel), ns, link))

    def set_xattr(self, rel, name, value):
        os.setxattr(self.p(rel), name, value, follow_symlinks=False)

    def probe(self):
        """Find out which xattr namespaces and ACLs the target filesystem takes."""
        t = self.p('.probe')
        with open(t, 'wb'):
            pass
        try:
            os.setxattr(t, 'user.probe', b'1')
            self.user_xattrs = True
        except OSError:
            pass
        if self.as_root:
            try:
                os.setxattr(t, 'trusted.probe', b'1')
                self.trusted_xattrs = True
            except OSError:
                pass
        if shutil.which('setfacl'):
            r = subprocess.run(['setfacl', '-m', 'u:12345:r', t], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            self.acls = r.returncode == 0
        os.unlink(t)

    # -- sections ------------------------------------------------------

    def files(self):
        self.mkdir('files')
        sizes = [0, 1, 2, 3, 17, 100, 511, 512, 513, 4095, 4096, 4097, 8191, 8192, 8193,
                 12289, 65535, 65536, 65537, 100003]
        for n in sizes:
            for kind in ('text', 'random', 'mixed'):
                if n == 0 and kind != 'text':
                    continue
                self.write('files/%s-%d' % (kind, n), self.content(kind, n))
        # About 1 MiB, deliberately not a multiple of any block size.
        for kind in ('text', 'random', 'mixed'):
            self.write('files/%s-1m' % kind, self.content(kind, (1 << 20) + 4093))
        self.write('files/zero-8192', bytes(8192))
        self.write('files/zero-70000', bytes(70000))
        # Half random (incompressible) then text: mixed pclusters.
        self.write('files/random-then-text',
                   self.random_bytes(30001) + self.text(90001))
        for i in range(12):
            n = self.rng.randrange(1, 300000)
            kind = self.rng.choice(('text', 'random', 'mixed'))
            self.write('files/rand-%02d-%s-%d' % (i, kind, n), self.content(kind, n))
        if self.big:
            for kind in ('text', 'random', 'mixed'):
                self.write('files/%s-8m' % kind, self.content(kind, (8 << 20) + 12345))

    def sparse(self):
        self.mkdir('sparse')

        def build(rel, pieces, total):
            # pieces: (offset, data); everything else is a hole made by seek.
            fd = os.open(self.p(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                for off, data in pieces:
                    os.lseek(fd, off, os.SEEK_SET)
                    os.write(fd, data)
                os.ftruncate(fd, total)
            finally:
                os.close(fd)
            self.stamp(rel)

        t = self.text
        build('sparse/hole-middle', [(0, t(5000)), (200000, t(3000))], 203000)
        build('sparse/hole-first', [(131072, t(4096))], 135168)
        build('sparse/hole-trailing', [(0, t(10000))], 300000)
        build('sparse/only-hole', [], 1 << 20)
        build('sparse/alternating',
              [(i * 16384, self.mixed(4096)) for i in range(20)], 20 * 16384)
        build('sparse/unaligned', [(1000, t(3)), (70001, t(5000)), (140000, t(1))], 150001)
        build('sparse/zeros-next-to-hole', [(0, bytes(8192)), (65536, t(100))], 65636)
        if self.big:
            build('sparse/big', [(i << 22, self.random_bytes(65536)) for i in range(8)],
                  (32 << 20) + 7)

    def dup(self):
        self.mkdir('dup')
        a = self.text(50000)
        b = self.random_bytes(20000)
        for i in range(4):
            self.write('dup/text-copy-%d' % i, a)
            self.write('dup/random-copy-%d' % i, b)
        self.write('dup/text-shifted', b'abc' + a)
        self.write('dup/random-twice', b + b)
        # The same in every tree, whatever the seed.
        fixed = b''.join(b'fixed line %06d\n' % i for i in range(5000))
        self.write('dup/fixed-1', fixed)
        self.write('dup/fixed-2', fixed)

    def cap(self, s):
        """Cut a name to max_name bytes at a UTF-8 character boundary."""
        b = s.encode('utf-8')
        if len(b) <= self.max_name:
            return s
        return b[:self.max_name].decode('utf-8', 'ignore')

    def name(self, maxlen=40):
        maxlen = min(maxlen, self.max_name)
        rng = self.rng
        alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+=,@'
        n = rng.randrange(1, maxlen + 1)
        s = ''.join(rng.choice(alphabet) for _ in range(n))
        if s in ('.', '..'):
            s += 'x'
        return s

    def dirs(self):
        self.mkdir('dirs')
        self.mkdir('dirs/empty')
        rel = 'dirs/chain'
        self.mkdir(rel)
        for i in range(30):
            rel += '/level-%02d' % i
            self.mkdir(rel)
        self.write(rel + '/leaf', self.text(123))
        self.symlink('../' * 31, rel + '/to-top')
        # A directory whose entries span many blocks (3000+ entries).
        self.mkdir('dirs/bigdir')
        used = set()
        files = []
        utf = ['é', 'ü', 'ß', 'ж', 'ω', '中', '文', '日本', '한', 'ש', '😀', 'e\u0301']
        n = 0
        while n < 3100:
            r = self.rng.random()
            if r < 0.7:
                nm = self.name(6)
            elif r < 0.9:
                nm = self.name(255)
            else:
                nm = self.name(10) + self.rng.choice(utf) + self.name(5)
            b = nm.encode('utf-8')
            if len(b) > 255 or b in used:
                continue
            used.add(b)
            rel2 = 'dirs/bigdir/' + nm
            k = self.rng.random()
            if k < 0.03:
                self.mkdir(rel2)
            elif k < 0.06:
                self.symlink(self.name(50), rel2)
            elif k < 0.10 and files:
                os.link(self.p(self.rng.choice(files)), self.p(rel2))
            else:
                self.write(rel2, self.text(self.rng.randrange(0, 64)))
                files.append(rel2)
            n += 1

    def names(self):
        self.mkdir('names')
        c = self.cap
        self.write('names/' + c('a' * 255), b'255 ascii')
        self.write('names/' + c('b' * 254), b'254 ascii')
        self.write('names/' + c('中' * 85), b'255 bytes of CJK')
        self.write('names/' + c('é' * 127 + 'x'), b'255 bytes of 2-byte chars')
        self.write('names/' + c('😀' * 63 + 'abc'), b'255 bytes with emoji')
        self.write('names/caf\u00e9', b'NFC')
        self.write('names/cafe\u0301', b'NFD')
        self.write('names/with space', b'')
        self.write('names/tab\there', b'')
        self.write('names/new\nline', b'')
        self.write('names/back\\slash', b'')
        self.write('names/quote"\'', b'')
        self.write('names/ *?|<>:;#~%', b'')
        self.write('names/-leading-dash', b'')
        self.write('names/...', b'')
        self.write('names/.hidden', b'')
        self.write('names/\u200bzero-width', b'')
        self.mkdir('names/' + c('d' * 255))
        self.write('names/' + c('d' * 255) + '/' + c('f' * 255), b'deep long names')
        # Not valid UTF-8: names are bytes.
        self.write(b'names/bad-\xff\xfe', b'')
        self.write(b'names/latin1-caf\xe9', b'')

    def links(self):
        self.mkdir('links')
        self.symlink('a', 'links/one')
        self.symlink('../files/text-100', 'links/relative')
        self.symlink('/etc/passwd', 'links/absolute')
        self.symlink('does/not/exist', 'links/dangling')
        self.symlink('../dirs', 'links/to-dir')
        self.symlink('loop-b', 'links/loop-a')
        self.symlink('loop-a', 'links/loop-b')
        self.symlink('self', 'links/self')
        self.symlink('ünïcødé/目标', 'links/utf8')
        for n in (1, 2, 59, 60, 61, 100, 255, 256, 511, 512, 513, 1000, 2047, 2048, 4000,
                  4094, 4095):
            # Targets made of path components, like a real long path.
            parts = []
            size = 0
            while size < n:
                c = self.name(20)
                parts.append(c)
                size += len(c) + 1
            t = '/'.join(parts)[:n]
            if t.endswith('/'):
                t = t[:-1] + 'z'
            self.symlink(t, 'links/len-%d' % n)

    def hard(self):
        self.mkdir('hard')
        self.mkdir('hard/a')
        self.mkdir('hard/b')
        self.write('hard/text', self.text(7000))
        os.link(self.p('hard/text'), self.p('hard/a/text-2'))
        os.link(self.p('hard/text'), self.p('hard/b/text-3'))
        self.write('hard/empty', b'')
        os.link(self.p('hard/empty'), self.p('hard/empty-2'))
        self.write('hard/big', self.mixed(200000))
        os.link(self.p('hard/big'), self.p('hard/a/big-2'))
        self.symlink('text', 'hard/symlink')
        os.link(self.p('hard/symlink'), self.p('hard/symlink-2'), follow_symlinks=False)
        os.mkfifo(self.p('hard/fifo'))
        self.stamp('hard/fifo')
        os.link(self.p('hard/fifo'), self.p('hard/fifo-2'))

    def nodes(self):
        self.mkdir('nodes')
        os.mkfifo(self.p('nodes/fifo'), 0o640)
        self.stamp('nodes/fifo')
        os.mkfifo(self.p('nodes/fifo-2'), 0o600)
        self.stamp('nodes/fifo-2')
        if not self.as_root:
            return
        for name, kind, ma, mi in (('null', stat.S_IFCHR, 1, 3), ('zero', stat.S_IFCHR, 1, 5),
                                   ('big-chr', stat.S_IFCHR, 4095, 1048575),
                                   ('sda1', stat.S_IFBLK, 8, 1),
                                   ('nvme', stat.S_IFBLK, 259, 65536),
                                   ('whiteout-like', stat.S_IFCHR, 0, 1)):
            os.mknod(self.p('nodes/' + name), kind | 0o660, os.makedev(ma, mi))
            self.stamp('nodes/' + name)
        os.link(self.p('nodes/null'), self.p('nodes/null-link'))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(self.p('nodes/socket'))
        finally:
            s.close()
        os.chmod(self.p('nodes/socket'), 0o755)
        self.stamp('nodes/socket')

    def modes(self):
        self.mkdir('modes')
        file_modes = [0o644, 0o600, 0o4755, 0o2755, 0o6755, 0o1644, 0o0444, 0o0755, 0o0777]
        if self.as_root:
            # Modes that leave the file unreadable to its owner: only root
            # can still read it (into an image, or back for a comparison).
            file_modes += [0o0222, 0o0111, 0o7777, 0o0000]
        for m in file_modes:
            self.write('modes/file-%04o' % m, self.text(10), mode=m)
        for m in (0o755, 0o1777, 0o2775, 0o700, 0o3777, 0o0555):
            self.mkdir('modes/dir-%04o' % m)
            self.write('modes/dir-%04o/f' % m, b'in a dir')
            self.late_modes.append((self.p('modes/dir-%04o' % m), m))
        if self.as_root:
            self.mkdir('modes/dir-0000')
            self.write('modes/dir-0000/f', b'locked')
            self.late_modes.append((self.p('modes/dir-0000'), 0))

    def owners(self):
        if not self.as_root:
            return
        self.mkdir('owners')
        for uid, gid in ((1000, 1000), (65534, 65534), (65535, 65535), (65536, 65536),
                         (100000, 200000), (0, 70000), (70000, 0), (4294967294, 4294967294),
                         (3000000000, 2147483648)):
            rel = 'owners/f-%d-%d' % (uid, gid)
            self.write(rel, self.text(20))
            os.chown(self.p(rel), uid, gid)
        # chown drops setuid: set the mode again afterwards.
        self.write('owners/setuid-70000', b'', mode=0o4755)
        os.chown(self.p('owners/setuid-70000'), 70000, 70000)
        os.chmod(self.p('owners/setuid-70000'), 0o4755)
        self.symlink('target', 'owners/link-80000')
        os.chown(self.p('owners/link-80000'), 80000, 80001, follow_symlinks=False)
        self.mkdir('owners/dir-65536')
        os.chown(self.p('owners/dir-65536'), 65536, 65537)
        os.mkfifo(self.p('owners/fifo-90000'))
        self.stamp('owners/fifo-90000')
        os.chown(self.p('owners/fifo-90000'), 90000, 5)

    def times(self):
        self.mkdir('times')
        G = 10**9
        cases = {
            'nsec': BASE_TIME * G + 123456789,
            'nsec-max': BASE_TIME * G + 999999999,
            'nsec-1': BASE_TIME * G + 1,
            'epoch': 0,
            'pre-1970': -1 * G,
            'pre-1970-half': -1500000000,
            'y1920': -1577923200 * G + 250000000,
            'int32-min': -(2**31) * G,
            'int32-max': (2**31 - 1) * G,
            'y2038': 2**31 * G + 7,
            'u32-max': (2**32 - 1) * G,
            'y2106': 2**32 * G + 5,
            'y2514': 2**34 * G,
            'base-1': (BASE_TIME - 1) * G,
            'base+1': (BASE_TIME + 1) * G,
        }
        for name, ns in cases.items():
            self.write('times/' + name, name.encode(), stamp=False)
            self.stamp('times/' + name, ns)
        for i in range(5):
            ns = self.rng.randrange(-2**33, 2**33) * G + self.rng.randrange(G)
            self.write('times/random-%d' % i, b'', stamp=False)
            self.stamp('times/random-%d' % i, ns)
        os.mkdir(self.p('times/dir-nsec'))
        self.stamp('times/dir-nsec', BASE_TIME * G + 555555555)
        os.mkdir(self.p('times/dir-pre-1970'))
        self.stamp('times/dir-pre-1970', -86400 * G)
        os.symlink(b'nowhere', self.p('times/link-nsec'))
        self.stamp('times/link-nsec', BASE_TIME * G + 42, link=True)
        os.mkfifo(self.p('times/fifo-pre-1970'))
        self.stamp('times/fifo-pre-1970', -3600 * G + 1)

    def xattrs(self):
        self.mkdir('xattr')
        if not self.user_xattrs:
            return
        self.write('xattr/empty-value', b'data')
        self.set_xattr('xattr/empty-value', 'user.empty', b'')
        self.write('xattr/small', b'data')
        self.set_xattr('xattr/small', 'user.a', b'1')
        self.set_xattr('xattr/small', 'user.binary', bytes(range(256)))
        self.write('xattr/big-value', self.text(3000))
        self.set_xattr('xattr/big-value', 'user.big', self.random_bytes(2000))
        self.set_xattr('xattr/big-value', 'user.big-text', self.text(1999))
        self.write('xattr/many', b'')
        for i in range(40):
            self.set_xattr('xattr/many', 'user.k%02d' % i, self.text(self.rng.randrange(0, 40)))
        self.write('xattr/long-name', b'')
        self.set_xattr('xattr/long-name', 'user.' + 'n' * 250, b'long name')
        # The same xattrs on several files: mkfs makes them shared xattrs.
        shared_val = self.text(100)
        for i in range(8):
            self.write('xattr/shared-%d' % i, self.text(i * 10))
            self.set_xattr('xattr/shared-%d' % i, 'user.shared', shared_val)
            self.set_xattr('xattr/shared-%d' % i, 'user.own', b'%d' % i)
        self.mkdir('xattr/dir')
        self.set_xattr('xattr/dir', 'user.on-dir', b'directory value')
        self.write('xattr/hardlinked', b'hl')
        self.set_xattr('xattr/hardlinked', 'user.hl', b'x')
        os.link(self.p('xattr/hardlinked'), self.p('xattr/hardlinked-2'))
        if self.trusted_xattrs:
            self.write('xattr/trusted', b'')
            self.set_xattr('xattr/trusted', 'trusted.overlay.opaque', b'y')
            self.set_xattr('xattr/trusted', 'trusted.big', self.random_bytes(2000))
            self.set_xattr('xattr/trusted', 'user.mixed', b'u')
            self.set_xattr('xattr/trusted', 'security.test', b'sec')
            self.symlink('t', 'xattr/symlink')
            self.set_xattr('xattr/symlink', 'trusted.on-link', b'link value')
            os.mkfifo(self.p('xattr/fifo'))
            self.stamp('xattr/fifo')
            self.set_xattr('xattr/fifo', 'trusted.on-fifo', b'fifo value')

    def acl(self):
        self.mkdir('acl')
        if not self.acls:
            return
        self.write('acl/file', b'acl')
        self.mkdir('acl/dir')
        subprocess.run(['setfacl', '-m', 'u:1000:rw,u:100000:r,g:2000:r,m:rw',
                        self.p('acl/file')], check=True)
        subprocess.run(['setfacl', '-m', 'u:1000:rwx,g:100:rx', self.p('acl/dir')], check=True)
        subprocess.run(['setfacl', '-d', '-m', 'u:1001:rx,g:101:r', self.p('acl/dir')],
                       check=True)

    def run(self):
        self.probe()
        self.files()
        self.sparse()
        self.dup()
        self.dirs()
        self.names()
        self.links()
        self.hard()
        self.nodes()
        self.modes()
        self.owners()
        self.times()
        self.xattrs()
        self.acl()
        for path, mode in self.late_modes:
            os.chmod(path, mode)
        # Deepest paths first: setting a child's time does not touch its
        # parent, but keep the order stable anyway.
        for path, ns, link in sorted(self.stamps, key=lambda t: (-t[0].count(b'/'), t[0])):
            os.utime(path, ns=(ns, ns), follow_symlinks=not link)
        os.utime(self.root, ns=(BASE_TIME * 10**9 + 987654321,) * 2)


def main(argv):
    big = False
    max_name = 255
    as_root = os.geteuid() == 0
    args = []
    for a in argv[1:]:
        if a == '--big':
            big = True
        elif a == '--no-root':
            as_root = False
        elif a.startswith('--max-name='):
            max_name = int(a.split('=', 1)[1])
            if not 16 <= max_name <= 255:
                sys.stderr.write('--max-name must be 16..255\n')
                return 2
        elif a in ('-h', '--help'):
            sys.stdout.write(__doc__)
            return 0
        elif a.startswith('--'):
            sys.stderr.write('unknown option %s\n' % a)
            return 2
        else:
            args.append(a)
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    seed = int(args[0])
    root = args[1]
    if os.path.exists(root):
        if os.listdir(root):
            sys.stderr.write('%s is not empty\n' % root)
            return 2
    else:
        os.mkdir(root)
    os.chmod(root, 0o755)
    Gen(seed, root, big, as_root, max_name).run()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
