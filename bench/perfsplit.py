#!/usr/bin/env python3
"""Sorts the samples of `perf script -F ip,sym,dso` (with call chains) into
where a Go-over-OpenSSL process spends its CPU: the kernel by the syscall
(or fault) it serves, the Go runtime by job, cgo's transitions, OpenSSL,
libc, ours. Reads the script on stdin, prints percentages.

A sample's category is its leaf frame's, except where the leaf alone
misleads: kernel time is charged to the syscall whose entry is in the chain
(a context switch inside epoll_pwait is epoll's), libc to OpenSSL's malloc
and memcpy when OpenSSL called it, runtime code under the GC worker to GC.
"""
import collections
import re
import sys

FRAME = re.compile(r"^\s*[0-9a-f]+ (.*) \((.*)\)$")

SYSCALLS = {
    "sendto": "send", "sendmsg": "send", "write": "send", "writev": "send",
    "recvfrom": "receive", "recvmsg": "receive", "read": "receive",
    "epoll_pwait": "epoll wait", "epoll_wait": "epoll wait", "epoll_ctl": "epoll_ctl",
    "futex": "futex (thread sleep/wake)", "nanosleep": "sleep/yield", "sched_yield": "sleep/yield",
    "madvise": "memory (mmap, madvise, brk)", "mmap": "memory (mmap, madvise, brk)",
    "munmap": "memory (mmap, madvise, brk)", "brk": "memory (mmap, madvise, brk)",
    "tgkill": "signals (preemption)", "rt_sigreturn": "signals (preemption)",
    "getrusage": "other syscalls", "clock_gettime": "other syscalls",
}

SCHED = ("runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.gopark",
         "runtime.goready", "runtime.ready", "runtime.runqget", "runtime.runqput", "runtime.runqgrab",
         "runtime.runqsteal", "runtime.wakep", "runtime.startm", "runtime.stopm", "runtime.notesleep",
         "runtime.notewakeup", "runtime.mcall", "runtime.gogo", "runtime.casgstatus", "runtime.execute",
         "runtime.stealWork", "runtime.checkTimers", "runtime.lock2", "runtime.unlock2",
         "runtime.futexsleep", "runtime.futexwakeup", "runtime.procyield", "runtime.osyield",
         "runtime.usleep", "runtime.nanotime", "runtime.resetspinning", "runtime.mPark", "runtime.handoffp",
         "runtime.acquirep", "runtime.releasep", "runtime.goschedIfBusy", "runtime.gosched",
         "runtime.mstart", "runtime.sysmon", "runtime.selectgo", "runtime.chansend", "runtime.chanrecv",
         "runtime.send", "runtime.recv", "runtime.sellock", "runtime.selunlock", "runtime.lock", "runtime.unlock",
         "runtime.pidle", "runtime.injectglist", "runtime.parkunlock", "runtime.goexit", "runtime.newproc",
         "runtime.timer", "runtime.(*timer", "runtime.(*timers", "runtime.memequal", "runtime.(*waitq")
CGO = ("runtime.cgocall", "runtime.asmcgocall", "runtime.entersyscall", "runtime.exitsyscall",
       "runtime.reentersyscall", "runtime.cgocallback", "runtime.cgocallbackg", "runtime.save",
       "runtime.unlockOSThread", "runtime.lockOSThread", "_cgo_", "runtime.load_g", "runtime.save_g",
       "crosscall", "runtime.(*cgoCallers", "runtime.cgoIsGoPointer", "runtime.cgoCheck",
       "runtime.exitsyscallfast", "runtime.casgstatus.abi0")
GC = ("runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.scanobject", "runtime.markroot",
      "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcAssist")


# The user-side frame that says which syscall a kernel sample serves: perf's
# kernel chains often stop at entry_SYSCALL_64 or name an inner function.
USER_SYSCALL = (
    ("runtime.usleep", "sleep/yield"), ("runtime.osyield", "sleep/yield"),
    ("runtime.futex", "futex (thread sleep/wake)"), ("runtime.netpoll", "epoll wait"),
    ("runtime.mmap", "memory (mmap, madvise, brk)"), ("runtime.madvise", "memory (mmap, madvise, brk)"),
    ("runtime.munmap", "memory (mmap, madvise, brk)"), ("runtime.sysUnused", "memory (mmap, madvise, brk)"),
    ("syscall.write", "send"), ("syscall.sendto", "send"), ("syscall.sendmsg", "send"),
    ("syscall.read", "receive"), ("syscall.recvfrom", "receive"), ("syscall.recvmsg", "receive"),
    ("syscall.Getrusage", "other syscalls"), ("runtime.tgkill", "signals (preemption)"),
    ("runtime.signalM", "signals (preemption)"), ("runtime.sigreturn", "signals (preemption)"),
    ("internal/poll.(*FD).Write", "send"), ("internal/poll.(*FD).Read", "receive"),
    ("internal/poll.(*FD).WriteTo", "send"), ("internal/poll.(*FD).ReadFrom", "receive"),
    ("internal/poll.(*pollDesc).init", "epoll_ctl"), ("internal/poll.(*pollDesc).close", "epoll_ctl"),
)


def kernel_reason(frames):
    syms = [s for s, _ in frames]
    if any(s.startswith(("runtime.sysmon", "runtime.entersyscallWakeSysmon")) for s in syms):
        # The runtime's monitor thread: its sleeps, and the futex wake-up
        # that a syscall or cgo call gives it when it slept deeply.
        return "sysmon (its sleeps, and wake-ups by syscalls and cgo calls)"
    if any("page_fault" in s for s in syms):
        return "page faults"
    for s, d in frames:
        if d.startswith("[kernel"):
            continue
        for prefix, name in USER_SYSCALL:
            if s.startswith(prefix):
                return name
    for s in syms:
        m = re.match(r"^(?:__(?:x64|ia32)_sys_|ksys_|__sys_|__do_sys_)(\w+)$", s)
        if m:
            return SYSCALLS.get(m.group(1), m.group(1))
    for s in syms:
        if "sysvec" in s or "softirq" in s or s.startswith("asm_common_interrupt"):
            return "interrupts"
    return "other"


def category(frames):
    leaf, dso = frames[0]
    if dso.startswith("[kernel"):
        return "kernel: " + kernel_reason(frames)
    if "libssl" in dso:
        return "OpenSSL: libssl"
    if "libcrypto" in dso:
        return "OpenSSL: libcrypto"
    if "libc.so" in dso or "libc-" in dso or "ld-linux" in dso:
        if any("libssl" in d or "libcrypto" in d for _, d in frames):
            return "libc under OpenSSL (malloc, free, memcpy)"
        return "libc, other"
    syms = [s for s, _ in frames]
    if "." not in leaf and not leaf.startswith(("_cgo_", "crosscall", "[unknown]")):
        return "ours: C shims"  # Go's symbols all have a dot
    if leaf.startswith("github.com/openssl-stateless/openssl") and "/bench/" not in leaf:
        return "ours: Go"
    if leaf.startswith(CGO):
        return "Go: syscall and cgo transitions"
    if "runtime.sysmon" in syms:
        return "Go: sysmon"
    if any(s.startswith(GC) for s in syms):
        return "Go: GC"
    if leaf.startswith(("runtime.mallocgc", "runtime.memclr", "runtime.(*mcache", "runtime.(*mheap",
                        "runtime.(*mspan", "runtime.nextFreeFast", "runtime.newobject", "runtime.makeslice",
                        "runtime.heapSetType")):
        return "Go: allocation"
    if leaf.startswith(("runtime.netpoll", "internal/poll.", "runtime.poll_", "runtime.(*pollDesc")):
        return "Go: netpoll, internal/poll"
    if leaf.startswith(SCHED):
        return "Go: scheduler, channels, timers, locks"
    if leaf.startswith(("syscall.", "internal/runtime/syscall", "runtime/internal/syscall")):
        return "Go: syscall wrappers"
    if leaf.startswith("runtime."):
        return "Go: runtime, other"
    if leaf.startswith(("net.", "net/netip.")):
        return "Go: package net"
    return "Go: other (harness, stdlib)"


def main():
    counts = collections.Counter()
    switches = 0
    total = 0
    frames = []

    def flush():
        nonlocal total, switches
        if not frames:
            return
        total += 1
        counts[category(frames)] += 1
        if any(s in ("__schedule", "schedule") for s, d in frames if d.startswith("[kernel")):
            switches += 1

    for line in sys.stdin:
        m = FRAME.match(line.rstrip("\n"))
        if m:
            frames.append((m.group(1), m.group(2)))
            continue
        if not line.strip() and frames:
            flush()
            frames = []
    flush()
    if total == 0:
        print("no samples")
        return
    groups = collections.Counter()
    for k, v in counts.items():
        groups[k.split(":")[0].split(",")[0].split(" under")[0]] += v
    print(f"{total} samples; by group: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in groups.most_common()))
    for k, v in counts.most_common():
        if 100 * v / total >= 0.5:
            print(f"  {100 * v / total:5.1f}%  {k}")
    print(f"  ({100 * switches / total:.1f}% of samples in the kernel's scheduler: context switches)")


if __name__ == "__main__":
    main()
