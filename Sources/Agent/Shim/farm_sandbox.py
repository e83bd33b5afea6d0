"""Per-task isolation inside the agent's bubblewrap sandbox.

The agent runs every Manim process (the warm fork server and cold renders)
under `bwrap --unshare-all`: no network, a read-only view of the system, the
Manim environment and TeX, and nothing of the agent's. Within that sandbox
many tasks share one warm server, so each task isolates itself further
before any of the submitter's code runs (`isolate`):

- a user namespace of its own (from which the rest is created; the
  capabilities it grants are dropped before the script runs),
- a mount namespace: a fresh, size-limited /tmp (HOME lives in it), its own
  task folder read-only at its usual path, every other task folder hidden,
  an empty /proc (nothing of the server or other tasks to read),
- a PID namespace whose init is the render: when it ends, the kernel kills
  everything it started, `setsid` or not, and it cannot see or signal the
  server or other tasks,
- IPC and UTS namespaces of its own.

Nothing a task writes survives it: /tmp and HOME are a tmpfs that disappears
with the namespace, and the task folder is read-only to it.
"""

import ctypes
import os
import shutil
import re
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# A directory bwrap creates for us (`--dir`), where the task folder is held while the others are hidden.
HOLDING = "/run/farm"

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(Exception):
    """The task could not be isolated: an agent-side failure, never the script's."""


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(error)}")


def _mount(source, target, fstype, flags, data=None):
    encode = lambda value: value.encode() if value is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def _drop_capabilities():
    for capability in range(64):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    _check(_libc.capset(ctypes.byref(Header(LINUX_CAPABILITY_VERSION_3, 0)), (Data * 2)()), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _mount_points_under(folder, excluded):
    """Mount points strictly under `folder` (bubblewrap's read-only binds), outside `excluded`."""
    points = set()
    with open("/proc/self/mountinfo") as info:
        for line in info:
            # Field 5 is the mount point, with spaces and the like as octal escapes.
            point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), line.split()[4])
            inside = point.startswith(folder.rstrip("/") + "/")
            if inside and point != excluded and not point.startswith(excluded.rstrip("/") + "/"):
                points.add(point)
    return sorted(points, key=lambda point: point.count("/"))


def _build_mounts(task, tmp_bytes):
    root = os.path.dirname(task.rstrip("/"))
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Read-only binds that live under /tmp (a Manim environment or shim in a temporary folder, as in CI) must
    # survive the fresh /tmp: they are held here while it is mounted, then bound back.
    kept = _mount_points_under("/tmp", root)
    _mount("tmpfs", HOLDING, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=700")
    held_task = os.path.join(HOLDING, "task")
    held_tmp = os.path.join(HOLDING, "tmp")
    os.mkdir(held_task)
    os.mkdir(held_tmp)
    _mount(task, held_task, None, MS_BIND | MS_REC)
    _mount("/tmp", held_tmp, None, MS_BIND | MS_REC)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_bytes},mode=1777")
    for point in kept:
        os.makedirs(point, exist_ok=True)
        _mount(os.path.join(held_tmp, os.path.relpath(point, "/tmp")), point, None, MS_BIND | MS_REC)
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if os.path.isdir(root):
        # Hide every other task's folder (unless /tmp's fresh tmpfs already did).
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    os.makedirs(task, exist_ok=True)
    _mount(held_task, task, None, MS_BIND | MS_REC)
    _mount(None, task, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # Nothing of the holding place stays reachable: not the task's other path, not the old /tmp.
    _check(_libc.umount2(HOLDING.encode(), MNT_DETACH), "umount the holding place")
    os.makedirs("/tmp/home", mode=0o700)


def isolate(task, tmp_bytes=2 << 30):
    """Moves this process into namespaces of its own (see the module's doc).

    Returns in the render's process: PID 1 of the new PID namespace, without
    capabilities, in `task`. The process that called it waits for the render
    and exits with its status; it never returns.
    """
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    with open("/proc/self/setgroups", "w") as setgroups:
        setgroups.write("deny")
    with open("/proc/self/uid_map", "w") as uid_map:
        uid_map.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as gid_map:
        gid_map.write(f"{gid} {gid} 1")
    _build_mounts(task, tmp_bytes)
    pid = os.fork()
    if pid != 0:
        _wait_and_exit_like(pid)
    # PID 1 of the new namespace: the render itself.
    _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
    _drop_capabilities()
    # The task's folder (the script and its assets) is read-only here; scripts write beside their files
    # (Manim's SVGMobject saves a cleaned copy of the SVG in the working folder), so they work in a copy
    # on the task's own size-limited /tmp.
    shutil.copytree(task, "/tmp/work", symlinks=True, dirs_exist_ok=True)
    os.chdir("/tmp/work")
    os.environ["HOME"] = "/tmp/home"
    os.environ["TMPDIR"] = "/tmp"


def _wait_and_exit_like(pid):
    """Waits for the render and ends this process the same way it ended."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    # `farm_sandbox.py probe TASK`: the agent's start-up check that isolation works on this host.
    import sys

    if sys.argv[1:2] != ["probe"] or len(sys.argv) != 3:
        sys.exit("usage: farm_sandbox.py probe TASK")
    try:
        isolate(sys.argv[2], 1 << 20)
    except (SandboxError, OSError) as error:
        sys.exit(f"sandbox unavailable: {error}")
    print(f"sandbox ok: pid {os.getpid()}, uid {os.getuid()}")
