"""Timing helpers: interleaved repeats (with a check for other processes' load),
peak RSS, first-call time in a fresh interpreter."""

import os
import resource
import statistics
import subprocess
import sys
import time

__all__ = ["interleaved", "foreign_cpu_share", "peak_rss_mib", "fresh_interpreter_seconds"]


def _cpu_ticks():
    """(busy, total) jiffies of the whole machine from /proc/stat (steal counts as busy)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    idle = v[3] + v[4]                      # idle + iowait
    return sum(v) - idle, sum(v)


def _self_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)   # all threads of this process
    return r.ru_utime + r.ru_stime


def foreign_cpu_share(func):
    """Run ``func()`` and return the share (0..1) of the machine's CPU time that
    *other* processes used meanwhile (from /proc/stat, 10 ms resolution; 0.0
    where /proc/stat is missing). Near 0 on a quiet machine; 0.5 on 2 cores
    means one core was busy with someone else's work."""
    try:
        busy0, tot0 = _cpu_ticks()
    except OSError:
        func()
        return 0.0
    self0 = _self_cpu_seconds()
    func()
    busy1, tot1 = _cpu_ticks()
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    other = (busy1 - busy0) * tick - (_self_cpu_seconds() - self0)
    return max(0.0, other / max((tot1 - tot0) * tick, tick))


def interleaved(funcs, repeats=5, warmup=1, max_foreign=None, max_rounds=None, pause=0.0):
    """Time callables in interleaved rounds A B C A B C ...

    funcs: dict name -> zero-argument callable (each call is one measurement).
    ``warmup`` untimed rounds are run first, then ``repeats`` timed rounds; in
    every round each callable runs once, in dict order, so slow drifts of a
    shared, noisy machine hit all of them alike.

    ``pause`` seconds of sleep go before each timed call (outside the timing):
    thread pools of the previous library (OpenBLAS, OpenMP, Eigen) keep
    spinning for a while after their work and would otherwise steal the cores
    from the next callable. Use ~0.2 s when comparing different libraries.

    The machine is shared: each round also records the CPU share other
    processes took (:func:`foreign_cpu_share`). With ``max_foreign`` set
    (e.g. 0.1), rounds above it are thrown away and run again, up to
    ``max_rounds`` rounds in all (default 4 * repeats); the result then
    holds fewer than ``repeats`` rounds if the machine never got quiet.

    Returns dict name -> {"times": [seconds per kept round], "median": seconds,
    "min": seconds, "foreign": [share per kept round], "discarded": int}.
    """
    for _ in range(warmup):
        for f in funcs.values():
            f()
    max_rounds = max_rounds or 4 * repeats
    times = {name: [] for name in funcs}
    foreign, discarded = [], 0
    for _ in range(max_rounds):
        if len(foreign) == repeats:
            break
        this = {}

        def one_round():
            for name, f in funcs.items():
                if pause:
                    time.sleep(pause)
                t0 = time.perf_counter()
                f()
                this[name] = time.perf_counter() - t0

        share = foreign_cpu_share(one_round)
        if max_foreign is not None and share > max_foreign:
            discarded += 1
            continue
        foreign.append(share)
        for name, t in this.items():
            times[name].append(t)
    nan = float("nan")
    return {name: {"times": t, "median": statistics.median(t) if t else nan, "min": min(t, default=nan),
                   "foreign": foreign, "discarded": discarded} for name, t in times.items()}


def peak_rss_mib():
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_TEMPLATE = """\
import time as _t
{setup}
_t0 = _t.perf_counter()
{snippet}
_dt = _t.perf_counter() - _t0
print("__SECONDS__", repr(_dt))
"""


def fresh_interpreter_seconds(snippet, setup="", env=None, cwd=None, timeout=600):
    """Seconds taken by ``snippet`` when run first thing in a new Python process.

    ``setup`` runs before the clock starts (e.g. imports you don't want
    counted); ``snippet`` is timed with ``time.perf_counter``, so it includes
    imports, JIT compilation and caches loaded inside it. Both are module-level
    code strings. ``env`` updates (not replaces) ``os.environ`` for the child.
    Raises ``RuntimeError`` with the child's stderr if it fails.
    """
    code = _TEMPLATE.format(setup=setup, snippet=snippet)
    child_env = dict(os.environ)
    if env:
        child_env.update(env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=child_env, cwd=cwd, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("__SECONDS__"):
            return float(line.split()[1])
    raise RuntimeError(f"snippet failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
