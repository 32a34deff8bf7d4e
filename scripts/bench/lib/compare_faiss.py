"""Runs Sightline and FAISS IndexIVFPQ on the same files with the same parameters, in one run,
and prints both tables side by side with the ratios. Called by scripts/bench/compare-faiss."""
import argparse
import json
import os
import subprocess
import sys
import time

import faiss
import numpy as np


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    d = raw[0]
    return raw.reshape(-1, d + 1)[:, 1:].copy().view(np.float32)


def write_fvecs(path, x):
    n, d = x.shape
    out = np.empty((n, d + 1), dtype=np.int32)
    out[:, 0] = d
    out[:, 1:] = x.view(np.int32)
    out.tofile(path)


def faiss_rows(args, base, queries, train, nprobes, refines, threads):
    d = base.shape[1]
    faiss.omp_set_num_threads(threads)
    quantizer = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFPQ(quantizer, d, args.nlist, args.m, 8)
    ivf.cp.niter = args.iterations
    ivf.pq.cp.niter = args.iterations
    index = faiss.IndexRefineFlat(ivf) if max(refines) > 1 else ivf
    t0 = time.perf_counter()
    index.train(train)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(base)
    build_s = time.perf_counter() - t0
    flat = faiss.IndexFlatL2(d)
    flat.add(base)
    _, truth = flat.search(queries, 10)
    index_bytes = len(faiss.serialize_index(ivf))
    rows = []
    for refine in refines:
        for nprobe in nprobes:
            ivf.nprobe = nprobe
            if isinstance(index, faiss.IndexRefineFlat):
                index.k_factor = max(1, refine)
            searcher = index if refine > 1 else ivf
            faiss.omp_set_num_threads(1)
            t0 = time.perf_counter()
            _, found = searcher.search(queries, 10)
            one = time.perf_counter() - t0
            faiss.omp_set_num_threads(threads)
            t0 = time.perf_counter()
            searcher.search(queries, 10)
            many = time.perf_counter() - t0
            faiss.omp_set_num_threads(1)
            lat = []
            for q in queries[: args.latency_queries]:
                t0 = time.perf_counter()
                searcher.search(q[None, :], 10)
                lat.append(time.perf_counter() - t0)
            lat.sort()
            r1 = float(np.mean(found[:, 0] == truth[:, 0]))
            r10 = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
            rows.append(dict(nprobe=nprobe, refine=refine, r_at_1=r1, recall_at_10=r10,
                             qps_1t=len(queries) / one, qps_mt=len(queries) / many,
                             p50_ms=lat[int(0.5 * len(lat))] * 1000, p99_ms=lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000,
                             index_bytes=index_bytes, train_s=train_s, build_s=build_s))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nlist", type=int, default=256)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--nprobe", default="1,2,4,8,16")
    parser.add_argument("--refine", default="0")
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--latency-queries", type=int, default=1000)
    parser.add_argument("--sightline", default=".build/release/sightline")
    parser.add_argument("--data-dir", default="bench-data")
    args = parser.parse_args()
    nprobes = [int(x) for x in args.nprobe.split(",")]
    refines = [int(x) for x in args.refine.split(",")]

    folder = os.path.join(args.data_dir, args.dataset.replace(":", "_").replace(",", "_").replace("=", ""))
    if not os.path.exists(os.path.join(folder, "base.fvecs")):
        print(f"exporting {args.dataset} -> {folder}", file=sys.stderr)
        subprocess.run([args.sightline, "export", "--dataset", args.dataset, "--out-dir", folder], check=True)
    base = read_fvecs(os.path.join(folder, "base.fvecs"))
    queries = read_fvecs(os.path.join(folder, "query.fvecs"))
    # One training sample for both: at most 256 points per coarse centroid, drawn once here, so
    # neither side subsamples the coarse training set on its own.
    train_path = os.path.join(folder, f"train-{args.nlist}.fvecs")
    source = os.path.join(folder, "train.fvecs") if os.path.exists(os.path.join(folder, "train.fvecs")) else os.path.join(folder, "base.fvecs")
    if not os.path.exists(train_path):
        full = read_fvecs(source)
        cap = 256 * args.nlist
        if len(full) > cap:
            full = full[np.random.default_rng(1234).choice(len(full), cap, replace=False)]
        write_fvecs(train_path, np.ascontiguousarray(full))
    train = read_fvecs(train_path)

    command = [args.sightline, "bench", "--dataset", os.path.join(folder, "base.fvecs"),
               "--queries", os.path.join(folder, "query.fvecs"), "--train", train_path,
               "--nlist", str(args.nlist), "--m", str(args.m), "--nprobe", args.nprobe, "--refine", args.refine,
               "--iterations", str(args.iterations), "--threads", str(args.threads),
               "--latency-queries", str(args.latency_queries), "--json"]
    if max(refines) > 1:
        command.append("--store-vectors")
    print("$ " + " ".join(command), file=sys.stderr)
    ours = [json.loads(line) for line in subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()]
    print("running FAISS", faiss.__version__, file=sys.stderr)
    theirs = faiss_rows(args, base, queries, train, nprobes, refines, args.threads)

    print(f"{args.dataset}: {len(base)} base, {len(queries)} queries, d={base.shape[1]}, nlist={args.nlist}, m={args.m}, "
          f"{args.iterations} k-means iterations, {len(train)} training vectors")
    print(f"train s: Sightline {ours[0]['train_s']:.2f}, FAISS {theirs[0]['train_s']:.2f} (ratio {ours[0]['train_s'] / theirs[0]['train_s']:.2f}); "
          f"build s: Sightline {ours[0]['build_s']:.2f}, FAISS {theirs[0]['build_s']:.2f}")
    print(f"memory: Sightline {ours[0]['index_bytes'] / 1e6:.1f} MB in memory, FAISS {theirs[0]['index_bytes'] / 1e6:.1f} MB serialized")
    print("| nprobe | refine | 10-R@10 SL | 10-R@10 FAISS | R@1 SL | R@1 FAISS | QPS 1t SL | QPS 1t FAISS | ratio | QPS mt SL | QPS mt FAISS | p50 ms SL | p50 ms FAISS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for a, b in zip(ours, theirs):
        print(f"| {a['nprobe']} | {a['refine']} | {a['recall_at_10']:.4f} | {b['recall_at_10']:.4f} | {a['r_at_1']:.4f} | {b['r_at_1']:.4f} | "
              f"{a['qps_1t']:.0f} | {b['qps_1t']:.0f} | {a['qps_1t'] / b['qps_1t']:.2f} | {a['qps_mt']:.0f} | {b['qps_mt']:.0f} | "
              f"{a['p50_ms']:.3f} | {b['p50_ms']:.3f} |")


if __name__ == "__main__":
    main()
