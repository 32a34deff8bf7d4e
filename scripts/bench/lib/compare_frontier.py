"""Each side at its best: on the same files in one run, Sightline and FAISS each sweep their own
families, and for every recall level the fastest single-thread configuration of each is printed
with the ratio. Called by scripts/bench/compare-faiss --frontier.

Families. Sightline: IVF-PQ with 4-bit fast-scan codes re-ranked from 8-bit scalar codes
(--pq-bits 4 --refine-codes sq8, with and without --opq) or from the full vectors (--refine-codes float), and with 8-bit
codes re-ranked from the full vectors, for each m of --m, nprobe × refine; HNSW over full vectors, efSearch. FAISS: IVF…,PQ…x4fs,RFlat and
IVF…,PQ…x4fs,Refine(SQ8) (4-bit fast-scan re-ranked with the full vectors or 8-bit codes) and
IVF…,PQ…,RFlat (8-bit) over nprobe × k_factor; HNSW32,Flat over efSearch. QPS: the whole query set as one batch on one thread, both sides, the fastest of --repeats passes."""
import argparse
import json
import os
import subprocess
import sys
import time

import faiss
import numpy as np

from compare_faiss import read_fvecs, write_fvecs


def dataset_folder(data_dir, dataset):
    """Where a dataset's exported files live (`sightline export`)."""
    return os.path.join(data_dir, dataset.replace(":", "_").replace(",", "_").replace("=", ""))


def recall10(found, truth):
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))


def timed(searcher, queries, repeats):
    """The fastest of `repeats` passes (a shared machine only ever slows a pass down)."""
    faiss.omp_set_num_threads(1)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, found = searcher.search(queries, 10)
        best = min(best, time.perf_counter() - t0)
    return found, len(queries) / best


def faiss_points(args, base, queries, train, truth):
    d, n = base.shape[1], len(base)
    points = []
    for m in args.ms:
        for spec in [f"IVF{args.nlist},PQ{m}x4fs,RFlat", f"IVF{args.nlist},PQ{m}x4fs,Refine(SQ8)", f"IVF{args.nlist},PQ{m},RFlat"]:
            repeats = args.repeats if "x4fs" in spec else args.slow_repeats
            nprobes = args.nprobes if "x4fs" in spec else args.slow_nprobes
            print(f"FAISS {spec}", file=sys.stderr)
            index = faiss.index_factory(d, spec)
            faiss.omp_set_num_threads(args.threads)
            index.train(train)
            index.add(base)
            ivf = faiss.extract_index_ivf(index)
            memory = len(faiss.serialize_index(index)) / n
            for nprobe in nprobes:
                ivf.nprobe = nprobe
                for k_factor in args.refines:
                    index.k_factor = max(1, k_factor)
                    found, qps = timed(index, queries, repeats)
                    points.append(dict(config=f"{spec}, nprobe {nprobe}, k_factor {max(1, k_factor)}", recall=recall10(found, truth),
                                       qps=qps, bytes=memory))
    if not args.efs:
        return points
    print("FAISS HNSW32,Flat", file=sys.stderr)
    index = faiss.index_factory(d, "HNSW32,Flat")
    faiss.omp_set_num_threads(args.threads)
    index.add(base)
    memory = len(faiss.serialize_index(index)) / n
    for ef in args.efs:
        index.hnsw.efSearch = ef
        found, qps = timed(index, queries, args.repeats)
        points.append(dict(config=f"HNSW32,Flat, efSearch {ef}", recall=recall10(found, truth), qps=qps, bytes=memory))
    return points


def sightline_points(args, folder, train_path, n):
    points = []
    data = ["--dataset", os.path.join(folder, "base.fvecs"), "--queries", os.path.join(folder, "query.fvecs")]
    families = [(["--pq-bits", "4", "--refine-codes", "sq8"], "x4 fast-scan + sq8"),
                (["--pq-bits", "4", "--refine-codes", "sq8", "--opq"], "x4 fast-scan + OPQ + sq8"),
                (["--pq-bits", "4", "--refine-codes", "float"], "x4 fast-scan + vectors"),
                (["--pq-bits", "8", "--store-vectors"], " 8-bit + vectors")]
    for m in args.ms:
        for flags, name in families:
            slow = "8-bit" in name
            if args.index_dir:
                os.makedirs(args.index_dir, exist_ok=True)
                tag = "-".join(f.lstrip("-") for f in flags)
                flags = [*flags, "--index", os.path.join(args.index_dir, f"nlist{args.nlist}-m{m}-{tag}.slix")]
            command = [args.sightline, "bench", *data, "--train", train_path, "--nlist", str(args.nlist), "--m", str(m), *flags,
                       "--nprobe", ",".join(map(str, args.slow_nprobes if slow else args.nprobes)), "--refine", ",".join(map(str, args.refines)),
                       "--probe-ratio", args.probe_ratio,
                       "--threads", str(args.threads), "--latency-queries", "50",
                       "--repeats", str(args.slow_repeats if slow else args.repeats), "--json"]
            print("$ " + " ".join(command), file=sys.stderr)
            for line in subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines():
                row = json.loads(line)
                ratio = f", probe ratio {row['probe_ratio']:g}" if row["probe_ratio"] else ""
                points.append(dict(config=f"IVF{args.nlist},PQ{m}{name}, nprobe {row['nprobe']}, refine {row['refine']}{ratio}",
                                   recall=row["recall_at_10"], qps=row["qps_1t"], bytes=row["index_bytes"] / n))
    if not args.efs:
        return points
    command = [args.sightline, "bench", *data, "--index-type", "hnsw", "--hnsw-m", "32", "--ef-search", ",".join(map(str, args.efs)),
               "--threads", str(args.threads), "--latency-queries", "50", "--repeats", str(args.repeats), "--json"]
    print("$ " + " ".join(command), file=sys.stderr)
    for line in subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines():
        row = json.loads(line)
        points.append(dict(config=f"HNSW M 32, efSearch {row['ef_search']}", recall=row["recall_at_10"], qps=row["qps_1t"],
                           bytes=row["index_bytes"] / n))
    return points


def best(points, level):
    reaching = [p for p in points if p["recall"] >= level]
    return max(reaching, key=lambda p: p["qps"]) if reaching else None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nlist", type=int, default=256)
    parser.add_argument("--m", default="16,56", help="PQ sizes to sweep (each must divide d); empty: no IVF family, HNSW alone")
    parser.add_argument("--nprobe", default="2,4,8,12,16,32")
    parser.add_argument("--refine", default="0,4,8,12,16,32")
    parser.add_argument("--ef-search", default="16,32,64,128,256", help="HNSW efSearch values; empty: no HNSW on either side")
    parser.add_argument("--levels", default="0.90,0.95,0.99")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per point, both sides; the fastest is kept")
    parser.add_argument("--slow-repeats", type=int, default=None,
                        help="passes per point for the 8-bit families, both sides (default: --repeats); at 1M vectors a pass "
                             "of theirs takes tens of seconds, far below the 4-bit frontier")
    parser.add_argument("--slow-nprobe", default=None,
                        help="nprobe values for the 8-bit families, both sides (default: --nprobe); at 1M vectors and high nprobe "
                             "a pass of theirs takes minutes")
    parser.add_argument("--probe-ratio", default="0",
                        help="Sightline's probe ratios swept under each nprobe (sightline bench --probe-ratio; 0: off)")
    parser.add_argument("--index-dir", default="",
                        help="keep Sightline's built indexes here and reuse them on the next run (same data and parameters)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--sightline", default=".build/release/sightline")
    parser.add_argument("--data-dir", default="bench-data")
    parser.add_argument("--json-out", default="")
    args = parser.parse_args()
    args.slow_repeats = args.repeats if args.slow_repeats is None else args.slow_repeats
    args.ms = [int(x) for x in args.m.split(",") if x]
    args.nprobes = [int(x) for x in args.nprobe.split(",")]
    args.slow_nprobes = [int(x) for x in (args.slow_nprobe or args.nprobe).split(",")]
    args.refines = [int(x) for x in args.refine.split(",")]
    args.efs = [int(x) for x in args.ef_search.split(",") if x]

    folder = dataset_folder(args.data_dir, args.dataset)
    if not os.path.exists(os.path.join(folder, "base.fvecs")):
        subprocess.run([args.sightline, "export", "--dataset", args.dataset, "--out-dir", folder], check=True)
    base = read_fvecs(os.path.join(folder, "base.fvecs"))
    queries = read_fvecs(os.path.join(folder, "query.fvecs"))
    train_path = os.path.join(folder, f"train-{args.nlist}.fvecs")
    if not os.path.exists(train_path):
        full = base
        cap = 256 * args.nlist
        if len(full) > cap:
            full = full[np.random.default_rng(1234).choice(len(full), cap, replace=False)]
        write_fvecs(train_path, np.ascontiguousarray(full))
    train = read_fvecs(train_path)
    flat = faiss.IndexFlatL2(base.shape[1])
    flat.add(base)
    _, truth = flat.search(queries, 10)

    ours = sightline_points(args, folder, train_path, len(base))
    theirs = faiss_points(args, base, queries, train, truth)
    if args.json_out:
        os.makedirs(os.path.dirname(args.json_out) or ".", exist_ok=True)
        with open(args.json_out, "w") as out:
            json.dump(dict(sightline=ours, faiss=theirs), out, indent=1)
    features = [f for f in ("avx512f", "avx2", "fma") if f in open("/proc/cpuinfo").read().split()]
    print(f"{args.dataset}: {len(base)} base, {len(queries)} queries, d={base.shape[1]}; one thread, queries as one batch; "
          f"CPU features: {', '.join(features)}; FAISS {faiss.__version__}")
    print("| 10-R@10 ≥ | Sightline QPS | its configuration (recall, bytes/vector) | FAISS QPS | its configuration (recall, bytes/vector) | ratio |")
    print("|---|---|---|---|---|---|")
    for level in [float(x) for x in args.levels.split(",")]:
        a, b = best(ours, level), best(theirs, level)
        cell = lambda p: ("—", "not reached") if p is None else (f"{p['qps']:,.0f}", f"{p['config']} ({p['recall']:.3f}, {p['bytes']:,.0f} B)")
        ratio = f"{a['qps'] / b['qps']:.2f}" if a and b else "—"
        print(f"| {level:.2f} | {cell(a)[0]} | {cell(a)[1]} | {cell(b)[0]} | {cell(b)[1]} | {ratio} |")


if __name__ == "__main__":
    main()
