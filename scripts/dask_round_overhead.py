"""Per-round overhead of data-parallel training on Dask, and a speed-up model.

For a few parameter sizes P (network [n_x, 64, 1]), on a LocalCluster of N=2
worker processes (1 thread each):

- overhead O(P): the time of one full-batch round (send the parameters in
  each block's task, two tiny gradient passes, gather, sum, update) with 8
  examples per worker, minus nothing (their compute is microseconds);
- compute c(P): seconds per example of one gradient pass (``piece_sums``) in
  this process, on a large piece;
- check: a round with m_w examples per worker, measured against the model
  T_round = c m_w + O.

Model of one full-batch iteration on N machines with m examples:
T_N = c m / N + O_N, against T_1 = c m in one process, so the speed-up is
S = c m / (c m / N + O_N); training on N workers beats one process when
m / N > O_N / (c (N - 1)) examples per worker (break-even) and reaches 80 %
efficiency at m / N = 4 O_N / c. O_N is measured at N = 2; the communication
part grows with N (the driver gathers N gradient vectors and sends N
parameter vectors) -- O_N ~ O_lat + N (O_2 - O_lat) / 2 with O_lat the
overhead at the smallest P. Mini-batches are one round per batch, so the same
model holds with m replaced by the batch size: data-parallel mini-batches pay
only for batches of at least the break-even size times N.

Usage: python scripts/dask_round_overhead.py [--rounds 30]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as Dask's workers: before numpy loads BLAS
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZES = [(14, "1e3"), (1560, "1e5"), (15620, "1e6")]   # n_x -> P about 1e3, 1e5, 1e6
HIDDEN = 64


def compute_per_example(n_x, k=2048, reps=5):
    from fastdnn.engine.options import TrainingOptions
    from fastdnn.engine.pieces import kernel_hyperparameters, piece_sums

    dims = [n_x, HIDDEN, 1]
    P = n_x * HIDDEN + HIDDEN + HIDDEN + 1
    rng = np.random.RandomState(0)
    X, Y = rng.rand(n_x, k), (rng.rand(1, k) > 0.5).astype(float)
    params = rng.randn(P) * 0.01
    hp = kernel_hyperparameters(TrainingOptions(), lambd=0.0, keep_prob=1.0)
    piece_sums(params, dims, ["relu", "sigmoid"], X, Y, hp)
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        piece_sums(params, dims, ["relu", "sigmoid"], X, Y, hp)
        best = min(best, time.perf_counter() - t)
    return best / k, P


def round_time(n_x, per_worker, rounds, n_workers=2):
    """Seconds per full-batch round (tasks, gather, sum, update) with per_worker examples
    in each of n_workers blocks; the data is generated on the workers and persisted."""
    import dask.array as da
    from distributed import default_client

    from fastdnn.distributed import DaskFeed, _Blocks, prepare
    from fastdnn.engine.options import TrainingOptions
    from fastdnn.engine.pieces import PieceDriver
    from fastdnn.initializers import initialize

    dims, acts = [n_x, HIDDEN, 1], ["relu", "sigmoid"]
    m = per_worker * n_workers
    X = da.random.RandomState(1).random_sample((n_x, m), chunks=(n_x, per_worker))
    Y = (np.random.RandomState(2).rand(1, m) > 0.5).astype(float)
    Xc, Yc = prepare(X, Y, dims, np.dtype(np.float64), "sigmoid")
    blocks = _Blocks(Xc, Yc, default_client(), 0)
    driver = PieceDriver(initialize(dims, "scaled", 1), dims, acts, np.float64, 1e-3,
                         TrainingOptions())
    feed = DaskFeed(blocks, m, dims, acts, driver.piece_hp, None, 10)

    def one_round():
        grads, loss, mb = next(feed.epoch(0))(driver.flat_parameters())
        driver.update(grads, 1e-3, mb)

    one_round()                                   # workers load the kernels
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        one_round()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=":0") as cluster, Client(cluster):
        rows = []
        for n_x, label in SIZES:
            c, P = compute_per_example(n_x)
            O = round_time(n_x, 8, args.rounds)
            rows.append((P, c, O))
            print("P = %8d (%5.1f MB): overhead per round O = %6.2f ms, compute c = %7.2f us per "
                  "example -> break-even (N=2) %6d examples per worker, 80%% efficiency at %7d"
                  % (P, P * 8 / 2**20, O * 1e3, c * 1e6, int(O / c), int(4 * O / c)))
        print("\ncheck of T_round = c m_w + O (m_w examples per worker); c_w: the compute per "
              "example on the workers, (T_round - O) / m_w (both workers busy at once):")
        calibrated = []
        for (n_x, _), (P, c, O) in zip(SIZES, rows):
            m_w = int(min(max(O / c, 64), 20000))
            T = round_time(n_x, m_w, max(5, args.rounds // 3))
            c_w = max(T - O, 1e-12) / m_w
            calibrated.append((P, c_w, O))
            print("  P = %8d, m_w = %6d: measured %7.2f ms, model %7.2f ms; c_w = %7.2f us "
                  "(%.1fx c) -> break-even %6d examples per worker" %
                  (P, m_w, T * 1e3, (c * m_w + O) * 1e3, c_w * 1e6, c_w / c, int(O / c_w)))
        rows = calibrated
        O_lat = rows[0][2]
        print("\nspeed-up model S(N) = c m / (c m / N + O_N), O_N = O_lat + N (O_2 - O_lat) / 2, "
              "with c = c_w:")
        for P, c, O in rows:
            for per_worker in (1000, 10000, 100000):
                line = []
                for N in (2, 4, 8, 16):
                    O_N = O_lat + N * (O - O_lat) / 2
                    m = per_worker * N
                    line.append("N=%d: %.1fx" % (N, c * m / (c * m / N + O_N)))
                print("  P = %8d, %6d examples/worker: %s" % (P, per_worker, ", ".join(line)))


if __name__ == "__main__":
    main()
