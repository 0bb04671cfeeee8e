"""A seccomp-bpf deny list for the sandbox child (Linux x86_64), installed with ctypes; no extra packages.

Defence in depth under the whitelist compiler and the rlimits: even Python code that found a way out of the
guards could not create sockets, start processes or programs, signal other processes (the host), trace them,
or create, delete, rename or change files. Denied system calls fail with EPERM; every other call is allowed
(the interpreter needs mmap/brk/read/write/signals). Calls through another ABI (i386, x32) kill the process.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
import sys

# x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
DENIED_X86_64: dict[str, int] = {
    # network
    "socket": 41,
    "connect": 42,
    "accept": 43,
    "bind": 49,
    "listen": 50,
    "socketpair": 53,
    "accept4": 288,
    # processes and programs
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "execveat": 322,
    "clone3": 435,
    # signalling or inspecting other processes
    "kill": 62,
    "tkill": 200,
    "tgkill": 234,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_open": 434,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
    "kcmp": 312,
    # opening files (RLIMIT_NOFILE=0 already stops new descriptors) and changing the file system
    "open": 2,
    "creat": 85,
    "openat": 257,
    "openat2": 437,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "truncate": 76,
    "rename": 82,
    "mkdir": 83,
    "rmdir": 84,
    "link": 86,
    "unlink": 87,
    "symlink": 88,
    "chmod": 90,
    "chown": 92,
    "lchown": 94,
    "utime": 132,
    "mknod": 133,
    "utimes": 235,
    "mkdirat": 258,
    "mknodat": 259,
    "fchownat": 260,
    "futimesat": 261,
    "unlinkat": 263,
    "renameat": 264,
    "linkat": 265,
    "symlinkat": 266,
    "fchmodat": 268,
    "utimensat": 280,
    "renameat2": 316,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    "fchmod": 91,
    "fchown": 93,
    "ftruncate": 77,
    # namespaces, mounts, kernel state
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "chroot": 161,
    "pivot_root": 155,
    "bpf": 321,
    "perf_event_open": 298,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "personality": 135,
    "reboot": 169,
    "kexec_load": 246,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "iopl": 172,
    "ioperm": 173,
    "settimeofday": 164,
    "clock_settime": 227,
    "sethostname": 170,
    "setdomainname": 171,
    "quotactl": 179,
}

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
# BPF opcodes
_LD_W_ABS = 0x00 | 0x00 | 0x20
_JEQ_K = 0x05 | 0x10 | 0x00
_JGE_K = 0x05 | 0x30 | 0x00
_RET_K = 0x06 | 0x00


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(denied: dict[str, int] | None = None) -> bytes:
    """The BPF program: check the ABI, refuse the denied calls with EPERM, allow the rest."""
    numbers = sorted(set((denied or DENIED_X86_64).values()))
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(_JGE_K, 0, 1, _X32_SYSCALL_BIT),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
    ]
    for nr in numbers:
        prog.append(_insn(_JEQ_K, 0, 1, nr))
        prog.append(_insn(_RET_K, 0, 0, _RET_ERRNO | errno.EPERM))
    prog.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    return b"".join(prog)


def supported() -> bool:
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


_FILTER = build_filter() if supported() else b""
_LIBC = ctypes.CDLL(None, use_errno=True) if supported() else None


def install() -> bool:
    """Install the filter on the calling process (irreversible); False where unsupported or refused."""
    if _LIBC is None:
        return False
    ul = ctypes.c_ulong
    if _LIBC.prctl(ul(_PR_SET_NO_NEW_PRIVS), ul(1), ul(0), ul(0), ul(0)) != 0:
        return False
    buf = ctypes.create_string_buffer(_FILTER, len(_FILTER))
    prog = _SockFprog(len(_FILTER) // 8, ctypes.cast(buf, ctypes.c_void_p))
    ptr = ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p).value
    return _LIBC.prctl(ul(_PR_SET_SECCOMP), ul(_SECCOMP_MODE_FILTER), ul(ptr), ul(0), ul(0)) == 0


def probe() -> bool:
    """Whether the filter can be installed here (tried in a throw-away forked child)."""
    import os

    if not supported():
        return False
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            ok = install() and _denied_now()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _denied_now() -> bool:
    import os

    try:
        os.kill(os.getpid(), 0)
    except PermissionError:
        return True
    return False
