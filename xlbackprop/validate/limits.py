"""Per-job limits for worker processes: CPU seconds, and memory above the loaded validator.

A worker applies them before each job (apply()). CPU is bounded by RLIMIT_CPU: at the soft limit the kernel
sends SIGXCPU, whose default action ends the process, so a job stuck in C code (a parser, a torch kernel)
ends as surely as one in Python; the exit status then says which limit ended it. Memory is bounded by
RLIMIT_AS, set to the worker's address space once the validator (torch included) is loaded plus the limit:
an allocation past it fails with MemoryError, which ends that job (batch.py turns it into a verdict) and
then the worker, so that the next job starts in a fresh process. LibreOffice runs a job starts inherit both
limits, each counted for its own process.
"""

import math
import resource
import signal
from dataclasses import dataclass

DEFAULT_CPU_SECONDS = 60
DEFAULT_MEMORY_MIB = 1024


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float | None = DEFAULT_CPU_SECONDS   # None: no limit
    memory_mib: int | None = DEFAULT_MEMORY_MIB        # above the loaded validator; None: no limit

    def wall_seconds(self):
        """How long a job may take by the clock before its worker is stopped from outside: its CPU limit
        with room for a LibreOffice conversion (whose own timeout is 120 s) and a busy machine."""
        return None if self.cpu_seconds is None else 3 * self.cpu_seconds + 150


_applied = None  # the Limits in force in this process, for the messages below
_base_bytes = None


def too_big(reason):
    return f"too big to check: {reason}"


def over_cpu(limits):
    return too_big(f"over the {limits.cpu_seconds:g} s limit")


def over_memory(limits=None):
    limits = limits or _applied
    if limits is None or limits.memory_mib is None:
        return too_big("out of memory")
    return too_big(f"over the {limits.memory_mib} MiB memory limit")


def over_wall(limits):
    return too_big(f"still running after {limits.wall_seconds():g} s")


def start_worker():
    """Note the address space of the loaded validator (call it once the imports are done)."""
    global _base_bytes
    _base_bytes = _address_space()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a job ended by SIGXCPU leaves no core file


def apply(limits):
    """Bound the next job of this worker process."""
    global _applied
    _applied = limits
    if limits.cpu_seconds is not None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + limits.cpu_seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
    if limits.memory_mib is not None:
        base = _base_bytes if _base_bytes is not None else _address_space()
        resource.setrlimit(resource.RLIMIT_AS, (base + limits.memory_mib * 2**20, resource.RLIM_INFINITY))


def death_message(exitcode, limits):
    """Why a worker that died during a job ended it, from its exit status (negative: the signal)."""
    if limits is not None and limits.cpu_seconds is not None and exitcode == -signal.SIGXCPU:
        return over_cpu(limits)
    return "the process validating it died (out of memory, or a crash); please report it"


def _address_space():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: a lower bound
