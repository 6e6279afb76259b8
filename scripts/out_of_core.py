"""Out-of-core training from HDF5: peak memory against file size, throughput disk vs memory.

Writes course-layout files of random (m, 64, 64, 3) uint8 images into /tmp (a
few hundred MB; deleted at the end), then runs each measurement in a fresh
Python process so that its peak RSS (``ru_maxrss``) is its own:

- stream-full / stream-mini: ``fit`` on ``HDF5Source(path, ..., chunk_examples=C)``
  (full-batch iterations; one mini-batch epoch of 64) on the large file, whose
  float64 form is many times the chunk bound;
- the same on a small file, page-cached and cold (its pages dropped with
  ``posix_fadvise(DONTNEED)``), against ``fit`` on the same data in memory.

Usage: python scripts/out_of_core.py [--examples 24000] [--small 3000] [--chunk 256]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIMS = [12288, 20, 7, 5, 1]


def write_file(path, m, seed=0, block=1000):
    """A course-layout file of m random 64x64x3 uint8 images, written in blocks."""
    import h5py

    rng = np.random.RandomState(seed)
    with h5py.File(path, "w") as f:
        x = f.create_dataset("train_set_x", shape=(m, 64, 64, 3), dtype=np.uint8)
        y = f.create_dataset("train_set_y", shape=(m,), dtype=np.int64)
        for lo in range(0, m, block):
            k = min(block, m - lo)
            imgs = rng.randint(0, 256, size=(k, 64, 64, 3), dtype=np.uint8)
            x[lo:lo + k] = imgs
            y[lo:lo + k] = (imgs[:, :32].mean(axis=(1, 2, 3)) > imgs[:, 32:].mean(axis=(1, 2, 3)))
        f.create_dataset("list_classes", data=np.array([b"a", b"b"]))


def drop_cache(path):
    """Evict the file's pages from the page cache (only this file's)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def child(mode, path, chunk, iterations):
    """One measurement in this process; prints a JSON line."""
    sys.path.insert(0, ROOT)
    import fastdnn
    from fastdnn.io import HDF5Source

    # load the compiled kernels before timing (tiny problem, same dtypes and layouts)
    warm = np.random.RandomState(0).rand(DIMS[0], 8)
    fastdnn.DeepNeuralNetwork(DIMS, strategy="direct").fit(warm, 1.0 * (warm[:1] > .5), 1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kw = dict(learning_rate=0.005, strategy="direct", random_state=1)
    clock = time.perf_counter()
    if mode.startswith("memory"):
        from fastdnn.io.data import load_dataset

        ds = load_dataset(path)
        loaded = time.perf_counter()
        m = ds.m
        if mode == "memory-full":
            fastdnn.DeepNeuralNetwork(DIMS, **kw).fit(ds.X, ds.Y, iterations)
        else:
            fastdnn.DeepNeuralNetwork(DIMS, batch_size=64, **kw).fit(ds.X, ds.Y, num_epochs=1)
        train = time.perf_counter() - loaded
        load = loaded - clock
    else:
        src = HDF5Source(path, "train_set_x", "train_set_y", chunk_examples=chunk)
        m = src.m
        if mode == "stream-full":
            fastdnn.DeepNeuralNetwork(DIMS, **kw).fit(src, None, iterations)
        else:
            fastdnn.DeepNeuralNetwork(DIMS, batch_size=64, **kw).fit(src, None, num_epochs=1)
        train = time.perf_counter() - clock
        load = 0.0
    passes = iterations if mode.endswith("full") else 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": mode, "m": m, "seconds": train, "load_seconds": load,
                      "examples_per_s": m * passes / train, "peak_rss_mb": peak / 1024,
                      "baseline_rss_mb": base / 1024}))


def run(mode, path, chunk, iterations, cold=False):
    if cold:
        drop_cache(path)
    out = subprocess.run([sys.executable, __file__, "--child", mode, path, str(chunk),
                          str(iterations)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=24000, help="examples in the large file")
    ap.add_argument("--small", type=int, default=3000, help="examples in the small file")
    ap.add_argument("--chunk", type=int, default=256, help="chunk_examples")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "CHUNK", "ITER"))
    args = ap.parse_args()
    if args.child:
        mode, path, chunk, iters = args.child
        return child(mode, path, int(chunk), int(iters))
    tmp = tempfile.mkdtemp(prefix="fastdnn_ooc_", dir="/tmp")
    big, small = os.path.join(tmp, "big.h5"), os.path.join(tmp, "small.h5")
    try:
        write_file(big, args.examples)
        write_file(small, args.small, seed=1)
        n_x = DIMS[0]
        bound = args.chunk * n_x * 8
        print("chunk_examples=%d: one float64 X chunk %.1f MB (reader: up to prefetch + 2 = 4 "
              "chunks alive)" % (args.chunk, bound / 2**20))
        rows = []
        for label, path in (("large", big), ("small", small)):
            size = os.path.getsize(path)
            m = args.examples if label == "large" else args.small
            print("\n%s file: %d examples, %.0f MB on disk (uint8), %.0f MB as float64 X"
                  % (label, m, size / 2**20, m * n_x * 8 / 2**20))
            modes = [("stream-full", False), ("stream-full", True), ("stream-mini", False)]
            if label == "small":
                modes += [("memory-full", False), ("memory-mini", False)]
            for mode, cold in modes:
                r = run(mode, path, args.chunk, args.iterations, cold)
                r.update(file=label, file_mb=size / 2**20, cold=cold)
                rows.append(r)
                print("  %-12s %-6s %9.0f examples/s   peak RSS %6.0f MB (after warm-up %4.0f MB)"
                      "%s" % (mode, "cold" if cold else "cached", r["examples_per_s"],
                              r["peak_rss_mb"], r["baseline_rss_mb"],
                              "   (+ %.1f s to load)" % r["load_seconds"] if r["load_seconds"]
                              else ""))
        print("\nJSON " + json.dumps(rows))
    finally:
        for p in (big, small):
            if os.path.exists(p):
                os.remove(p)
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
