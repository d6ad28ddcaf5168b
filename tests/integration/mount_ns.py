"""Mount namespaces for the root tests, so they can set up /sys/fs/bpf as a case needs without
touching the host's.

  enter_private_mount_ns()   this thread (pytest's main thread, and every process it starts
                             from now on) gets a mount namespace of its own, mounts private
  set_bpffs(state)           in it: "mounted", a fresh bpffs at /sys/fs/bpf with mode 0700, as
                             systemd mounts it at boot; "unmounted", nothing there (veild mounts
                             one itself)
  isolate_bpffs_from_env()   both, per VEIL_TEST_BPFFS (tools/test.sh runs the root tests once
                             per state); a no-op when it is unset: the host's /sys/fs/bpf as is

The namespace goes away with the last process in it; so do its bpffs instances and every pin
and link in them, which is also a cleanup no failed test can skip.
"""

from __future__ import annotations

import ctypes
import os
import subprocess

CLONE_NEWNS = 0x00020000
BPFFS = "/sys/fs/bpf"
STATES = ("mounted", "unmounted")


def enter_private_mount_ns() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNS): {os.strerror(err)}")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


def mounts_at(path: str) -> list[str]:
    """Filesystem types mounted at `path` in this namespace, bottom first."""
    types = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == path:
                types.append(fields[sep + 1])
    return types


def set_bpffs(state: str) -> None:
    if state not in STATES:
        raise ValueError(f"VEIL_TEST_BPFFS={state!r}: expected one of {STATES}")
    while mounts_at(BPFFS):
        subprocess.run(["umount", "-l", BPFFS], check=True)
    if state == "mounted":
        subprocess.run(["mount", "-t", "bpf", "-o", "mode=0700,nosuid,nodev,noexec", "bpf",
                        BPFFS], check=True)


def isolate_bpffs_from_env() -> str | None:
    state = os.environ.get("VEIL_TEST_BPFFS")
    if not state:
        return None
    enter_private_mount_ns()
    set_bpffs(state)
    return state
