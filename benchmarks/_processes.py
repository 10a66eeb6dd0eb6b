"""CPU time of benchmarked processes (a helper module, not a benchmark)."""

from __future__ import annotations


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its descendants, including their reaped children.

    Flow-run processes forked by the agent's fork server are reaped by it, so their time
    shows in its children's times; the tree as a whole accounts for every run process.
    """
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total
