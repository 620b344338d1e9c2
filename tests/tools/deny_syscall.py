#!/usr/bin/env python3
"""Runs a command under a seccomp filter that makes some system calls fail with EPERM, as
a container's or a service manager's policy may (Docker's default profile, systemd's
SystemCallFilter=). The filter survives execve, so the command and its threads see it.

    deny_syscall.py SYSCALL[,SYSCALL...] COMMAND [ARG...]

Linux on x86_64 or aarch64; anything else is an error, never a silent pass.
"""
import ctypes
import os
import platform
import struct
import sys

# (audit arch, {name: number}) for the machines CI runs on.
ARCHES = {
    "x86_64": (0xC000003E, {"splice": 275, "sendfile": 40}),
    "aarch64": (0xC00000B7, {"splice": 76, "sendfile": 71}),
}
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    names, cmd = sys.argv[1].split(","), sys.argv[2:]
    machine = platform.machine()
    for name in names:
        if machine not in ARCHES or name not in ARCHES[machine][1]:
            sys.exit("deny_syscall.py: no number for %s on %s" % (name, machine))
    arch, numbers = ARCHES[machine]
    n = len(names)
    # seccomp_data: int nr at offset 0, u32 arch at offset 4. Layout: load the arch (0),
    # another ABI goes to ALLOW (1), load nr (2), one test per name (3..3+n) jumping to
    # ERRNO, then ALLOW (3+n) and ERRNO (4+n).
    prog = [
        insn(BPF_LD_W_ABS, 0, 0, 4),
        insn(BPF_JEQ_K, 0, n + 1, arch),
        insn(BPF_LD_W_ABS, 0, 0, 0),
    ]
    prog += [insn(BPF_JEQ_K, n - i, 0, numbers[name]) for i, name in enumerate(names)]
    prog += [
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
    ]
    prog = b"".join(prog)
    filt = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog) // 8, ctypes.addressof(filt))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        sys.exit("deny_syscall.py: PR_SET_NO_NEW_PRIVS: " + os.strerror(ctypes.get_errno()))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit("deny_syscall.py: PR_SET_SECCOMP: " + os.strerror(ctypes.get_errno()))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
