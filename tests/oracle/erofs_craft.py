# SPDX-License-Identifier: MIT
"""
Patch EROFS images made by mkfs.erofs into hostile ones, for the tests.

A small, independent reader of uncompressed images (FORMAT.md: superblock,
compact/extended inodes, flat plain/inline data, directory blocks) and
writers for the fields the tests damage.  It never trusts the library under
test: offsets are computed here from the on-disk format.  Patching clears
the superblock checksum feature, so no checksum has to be recomputed (the
kernel and the library then skip the check).
"""
import struct

SUPER = 1024
COMPAT_SB_CHKSUM = 0x1
INCOMPAT_CHUNKED_FILE = 0x4
FT_REG, FT_DIR, FT_SYMLINK = 1, 2, 7


class Inode:
    pass


class Image:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.d = bytearray(f.read())
        sb = self.d[SUPER:SUPER + 128]
        if struct.unpack_from("<I", sb, 0)[0] != 0xE0F5E1E2:
            raise ValueError("not an EROFS image")
        self.blkbits = sb[12]
        self.bsz = 1 << self.blkbits
        self.root = struct.unpack_from("<H", sb, 14)[0]
        self.meta = struct.unpack_from("<I", sb, 40)[0] * self.bsz
        self.xattr_blk = struct.unpack_from("<I", sb, 44)[0]
        compat = struct.unpack_from("<I", self.d, SUPER + 8)[0]
        struct.pack_into("<I", self.d, SUPER + 8, compat & ~COMPAT_SB_CHKSUM)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.d)

    # ---- inodes ----------------------------------------------------------
    def iget(self, nid):
        i = Inode()
        i.nid = nid
        i.pos = self.meta + nid * 32
        fmt, icount, mode = struct.unpack_from("<HHH", self.d, i.pos)
        i.fmt, i.icount, i.mode = fmt, icount, mode
        i.ext = fmt & 1
        i.layout = (fmt >> 1) & 7
        if i.ext:
            i.isize = 64
            i.size = struct.unpack_from("<Q", self.d, i.pos + 8)[0]
            i.u = struct.unpack_from("<I", self.d, i.pos + 16)[0]
        else:
            i.isize = 32
            i.size = struct.unpack_from("<I", self.d, i.pos + 8)[0]
            i.u = struct.unpack_from("<I", self.d, i.pos + 16)[0]
        i.xsize = 12 + 4 * (icount - 1) if icount else 0
        return i

    def set_size(self, ino, size):
        if ino.ext:
            struct.pack_into("<Q", self.d, ino.pos + 8, size)
        else:
            struct.pack_into("<I", self.d, ino.pos + 8, size)
        ino.size = size

    def set_mode(self, ino, mode):
        struct.pack_into("<H", self.d, ino.pos + 4, mode)
        ino.mode = mode

    def set_layout(self, ino, layout):
        fmt = (ino.fmt & ~(7 << 1)) | (layout << 1)
        struct.pack_into("<H", self.d, ino.pos, fmt)
        ino.fmt, ino.layout = fmt, layout

    def data_off(self, ino, off):
        """Image offset of byte @off of a flat (plain or inline) inode."""
        nblocks = (ino.size + self.bsz - 1) // self.bsz
        blk = off // self.bsz
        if ino.layout == 2 and blk == nblocks - 1:
            return ino.pos + ino.isize + ino.xsize + off % self.bsz
        if ino.layout not in (0, 2):
            raise ValueError("nid %d: layout %d" % (ino.nid, ino.layout))
        return ino.u * self.bsz + off

    # ---- directories -----------------------------------------------------
    def dirents(self, ino):
        """[(dirent offset, nid, type, name offset, name)] of a directory."""
        out = []
        for b in range(0, ino.size, self.bsz):
            base = self.data_off(ino, b)
            maxsize = min(ino.size - b, self.bsz)
            n = struct.unpack_from("<H", self.d, base + 8)[0] // 12
            for k in range(n):
                nid, noff, ft = struct.unpack_from("<QHB", self.d, base + 12 * k)
                if k + 1 < n:
                    end = struct.unpack_from("<H", self.d, base + 12 * (k + 1) + 8)[0]
                else:
                    z = self.d.find(b"\0", base + noff, base + maxsize)
                    end = (z if z >= 0 else base + maxsize) - base
                out.append((base + 12 * k, nid, ft, base + noff,
                            bytes(self.d[base + noff:base + end])))
        return out

    def lookup(self, path):
        ino = self.iget(self.root)
        for comp in [c for c in path.split("/") if c]:
            for _, nid, _, _, name in self.dirents(ino):
                if name == comp.encode():
                    ino = self.iget(nid)
                    break
            else:
                raise KeyError(path)
        return ino

    def dirent(self, dirpath, name):
        """The dirent tuple of @name in directory @dirpath."""
        for e in self.dirents(self.lookup(dirpath)):
            if e[4] == name.encode() if isinstance(name, str) else e[4] == name:
                return e
        raise KeyError(name)

    def set_dirent(self, dpos, nid=None, ftype=None):
        if nid is not None:
            struct.pack_into("<Q", self.d, dpos, nid)
        if ftype is not None:
            self.d[dpos + 10] = ftype

    def set_name(self, npos, name):
        """Overwrite a name in place (same length)."""
        self.d[npos:npos + len(name)] = name

    # ---- growing the image -----------------------------------------------
    def append_block(self, data):
        """Append one block (padded); returns its block number."""
        pad = (-len(self.d)) % self.bsz
        self.d += b"\0" * pad
        blk = len(self.d) // self.bsz
        self.d += bytes(data) + b"\0" * (self.bsz - len(data))
        return blk

    def append_meta(self, data):
        """Append @data at a 32-byte slot past the end; returns its nid."""
        pad = (-len(self.d)) % 32
        self.d += b"\0" * pad
        nid = (len(self.d) - self.meta) // 32
        self.d += bytes(data)
        return nid

    def finish(self):
        """Pad to whole blocks and fix the superblock's block count."""
        self.d += b"\0" * ((-len(self.d)) % self.bsz)
        struct.pack_into("<I", self.d, SUPER + 36, len(self.d) // self.bsz)

    def add_incompat(self, bits):
        v = struct.unpack_from("<I", self.d, SUPER + 80)[0]
        struct.pack_into("<I", self.d, SUPER + 80, v | bits)


def dir_block(entries, bsz):
    """One directory block from [(name bytes, nid, ftype)] in the given order."""
    n = len(entries)
    off = 12 * n
    head, names = b"", b""
    for name, nid, ft in entries:
        head += struct.pack("<QHBB", nid, off + len(names), ft, 0)
        names += name
    blk = head + names
    if len(blk) > bsz:
        raise ValueError("directory block overflows")
    return blk


def compact_inode(mode, size, u, nlink=1, layout=0, mtime=0):
    """A 32-byte compact inode (no xattrs)."""
    fmt = (layout << 1)
    return struct.pack("<HHHHIIIIHHI", fmt, 0, mode, nlink, size, mtime, u, 0, 0, 0, 0)
