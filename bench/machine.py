"""The machine a benchmark ran on, printed above its figures (figures mean little without it)."""

from __future__ import annotations

import os
import platform
import sys


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, which containers narrow), else the count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def describe() -> str:
    return (f"machine: {cpu_model()}, {usable_cores()} usable cores ({os.cpu_count()} online), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()} "
            f"({platform.python_implementation()}), {sys.executable}")


if __name__ == "__main__":
    print(describe())
