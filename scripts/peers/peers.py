"""The Python peers' side of `npm run bench -- --only peers` (run with the venv from install.sh).

  peers.py surprise --dir ML100K_DIR --algo svd|svdpp [--folds 1,2,3,4,5]
  peers.py implicit --coo FILE --factors 64 --threads 2 --iterations 3 [--cg-steps 3]

Prints one JSON line. Times are wall seconds of the training call only (data already loaded), and
process CPU seconds beside them; peak RSS is VmHWM from /proc/self/status.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_surprise(args):
    from surprise import SVD, SVDpp, Dataset, Reader, accuracy
    from surprise.model_selection import PredefinedKFold

    reader = Reader(line_format="user item rating timestamp", sep="\t", rating_scale=(1, 5))
    folds = []
    for f in args.folds.split(","):
        train_path = os.path.join(args.dir, f"u{f}.base")
        test_path = os.path.join(args.dir, f"u{f}.test")
        data = Dataset.load_from_folds([(train_path, test_path)], reader=reader)
        [(trainset, testset)] = PredefinedKFold().split(data)
        # Surprise's own defaults (the published numbers); random_state fixes the initial factors.
        algo = SVD(random_state=0) if args.algo == "svd" else SVDpp(random_state=0)
        t0, c0 = time.perf_counter(), time.process_time()
        algo.fit(trainset)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        predictions = algo.test(testset)
        rmse = accuracy.rmse(predictions, verbose=False)
        folds.append({"fold": f"u{f}", "rmse": rmse, "seconds": seconds, "cpuSeconds": cpu})
    return {"tool": f"surprise-{args.algo}", "threads": 1, "folds": folds}


def read_coo(path):
    with open(path, "rb") as f:
        n = int(np.frombuffer(f.read(4), dtype="<i4")[0])
        users = np.frombuffer(f.read(4 * n), dtype="<i4")
        items = np.frombuffer(f.read(4 * n), dtype="<i4")
        values = np.frombuffer(f.read(4 * n), dtype="<f4")
    return users, items, values


def run_implicit(args):
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    # implicit's own advice: BLAS single-threaded, its own threads do the work.
    threadpool_limits(1, "blas")
    from implicit.cpu.als import AlternatingLeastSquares

    users, items, values = read_coo(args.coo)
    t0 = time.perf_counter()
    # Both orientations, as Netflicks' buildTrainingData does (implicit builds the second in fit).
    user_items = sp.csr_matrix((values, (users, items)), dtype=np.float32)
    item_users = user_items.T.tocsr()
    build_seconds = time.perf_counter() - t0
    # Only the matrix is needed for training (the Node side drops its input table too).
    del item_users, users, items, values

    model = AlternatingLeastSquares(
        factors=args.factors,
        regularization=args.regularization,
        iterations=args.iterations,
        num_threads=args.threads,
        random_state=1,
    )
    model.cg_steps = args.cg_steps
    stamps = []
    cpu = []
    last_cpu = [time.process_time()]

    def on_iteration(iteration, elapsed, loss):
        stamps.append(elapsed)
        now = time.process_time()
        cpu.append(now - last_cpu[0])
        last_cpu[0] = now

    model.fit(user_items, show_progress=False, callback=on_iteration)
    return {
        "tool": "implicit",
        "users": user_items.shape[0],
        "items": user_items.shape[1],
        "nnz": int(user_items.nnz),
        "factors": args.factors,
        "threads": args.threads,
        "cgSteps": args.cg_steps,
        "buildSeconds": build_seconds,
        "iterationSeconds": stamps,
        "secondsPerIteration": float(np.median(stamps)),
        "cpuSecondsPerIteration": float(np.median(cpu)),
        "peakRssMB": peak_rss_mb(),
    }


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("surprise")
    s.add_argument("--dir", required=True)
    s.add_argument("--algo", choices=["svd", "svdpp"], required=True)
    s.add_argument("--folds", default="1,2,3,4,5")
    i = sub.add_parser("implicit")
    i.add_argument("--coo", required=True)
    i.add_argument("--factors", type=int, default=64)
    i.add_argument("--threads", type=int, default=2)
    i.add_argument("--iterations", type=int, default=3)
    i.add_argument("--cg-steps", type=int, default=3)
    i.add_argument("--regularization", type=float, default=0.01)
    args = parser.parse_args()
    result = run_surprise(args) if args.cmd == "surprise" else run_implicit(args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
