"""Where a store's SQLite file lives: a network filesystem keeps SQLite's rollback journal (a
write-ahead log needs shared memory that NFS, Lustre, GPFS ... do not give)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["_network_filesystem"]

_NETWORK_FS = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb", "smb3", "smbfs", "ceph", "glusterfs",
               "fuse.sshfs", "afs", "panfs", "wekafs", "9p")


def _network_filesystem(path: Path) -> bool:
    """True when ``path`` lies on a network filesystem (longest mount point of /proc/mounts)."""
    try:
        target = str(Path(path).resolve().parent)
        best, kind = "", ""
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, kind = mnt, parts[2]
    except OSError:  # no /proc (macOS): assume local
        return False
    return kind in _NETWORK_FS or kind.startswith("fuse.") and kind != "fuse.overlayfs"
