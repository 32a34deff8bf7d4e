"""Chosen points of each side measured in alternating rounds: FAISS's points, then Sightline's,
then FAISS's again, and so on. A frontier sweep measures all of one side and then all of the
other, so a slow spell of a shared machine can fall on one side only; rounds put both sides
under the same spells, and the fastest pass of each point over all rounds is what it can do.
Called by scripts/bench/compare-faiss --rounds.

Points are NPROBE:REFINE pairs (FAISS: nprobe and k_factor); Sightline's may add :RATIO, its probe ratio
(`sightline bench --probe-ratio`; 0 or absent: off). --faiss-hnsw-ef adds FAISS's
HNSW32,Flat at those efSearch values to every round. Sightline's points run through
`sightline bench` with --sightline-flags on a reused index (--index), FAISS's on one index built
from --faiss-spec; both train on the frontier's training file (train-NLIST.fvecs). The closing table
gives, per recall level (--levels), each side's fastest point, the ratio, the ratio in each round
and the bytes a vector of each index."""
import argparse
import json
import os
import shlex
import subprocess
import sys

import faiss

from compare_faiss import read_fvecs
from compare_frontier import dataset_folder, recall10, timed


def level_table(runs, levels, rounds):
    """Per recall level: each side's fastest point over all rounds, the ratio, and the ratio of
    each round (each side's fastest point at the level in that round). `runs` maps a point's key
    to its side, recall, bytes a vector and QPS per round."""
    lines = ["| 10-R@10 ≥ | Sightline QPS | its point (recall, bytes/vector) | FAISS QPS | its point (recall, bytes/vector) "
             "| ratio | per round |", "|---|---|---|---|---|---|---|"]
    for level in levels:
        def fastest(side, round_number=None):
            reaching = [(max(r["qps"]) if round_number is None else r["qps"][round_number], key, r)
                        for key, r in runs.items() if r["side"] == side and r["recall"] >= level
                        and (round_number is None or round_number < len(r["qps"]))]
            return max(reaching, key=lambda t: t[0]) if reaching else None
        ours, theirs = fastest("Sightline"), fastest("FAISS")
        cell = lambda b: ("—", "not reached") if b is None else (f"{b[0]:,.0f}", f"{b[1]} ({b[2]['recall']:.3f}, {b[2]['bytes']:,.0f} B)")
        per_round = []
        for round_number in range(rounds):
            a, b = fastest("Sightline", round_number), fastest("FAISS", round_number)
            per_round.append(f"{a[0] / b[0]:.2f}" if a and b else "—")
        ratio = f"{ours[0] / theirs[0]:.2f}" if ours and theirs else "—"
        lines.append(f"| {level:.2f} | {cell(ours)[0]} | {cell(ours)[1]} | {cell(theirs)[0]} | {cell(theirs)[1]} | {ratio} "
                     f"| {', '.join(per_round)} |")
    return "\n".join(lines)


def points(text, ratios=False):
    """NPROBE:REFINE pairs; with `ratios`, NPROBE:REFINE[:RATIO] triples (the ratio 0 when absent)."""
    try:
        items = [[float(x) for x in item.split(":")] for item in text.split(",") if item]
    except ValueError:
        items = []
    shape_ok = items and all(len(p) == 2 or (ratios and len(p) == 3) for p in items)
    if not shape_ok or any(min(p[:2]) < 1 or p[0] != int(p[0]) or p[1] != int(p[1]) for p in items) \
            or any(len(p) == 3 and not (p[2] == 0 or p[2] >= 1) for p in items):
        sys.exit(f"points must be NPROBE:REFINE{'[:RATIO]' if ratios else ''} of positive numbers"
                 f"{' (a ratio 0 or at least 1)' if ratios else ''}, got {text!r}")
    if not ratios:
        return [(int(p[0]), int(p[1])) for p in items]
    return [(int(p[0]), int(p[1]), p[2] if len(p) == 3 else 0.0) for p in items]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic:n=1000000,q=10000,train=300000,seed=1")
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--m", type=int, default=64)
    parser.add_argument("--faiss-spec", default="", help="default: IVF{nlist},PQ{m}x4fs,RFlat")
    parser.add_argument("--faiss-points", default="64:16,128:16")
    parser.add_argument("--faiss-hnsw-ef", default="", help="efSearch values for FAISS's HNSW32,Flat (empty: none)")
    parser.add_argument("--sightline-flags", default="--pq-bits 4 --refine-codes float")
    parser.add_argument("--sightline-points", default="64:8,112:16")
    parser.add_argument("--index", required=True, help="Sightline's index file: reused when it exists, written otherwise")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per point and round, both sides")
    parser.add_argument("--sightline", default=".build/release/sightline")
    parser.add_argument("--data-dir", default="bench-data")
    parser.add_argument("--levels", default="0.90,0.95,0.99", help="recall levels of the closing table")
    args = parser.parse_args()
    spec = args.faiss_spec or f"IVF{args.nlist},PQ{args.m}x4fs,RFlat"
    faiss_points, our_points = points(args.faiss_points), points(args.sightline_points, ratios=True)

    folder = dataset_folder(args.data_dir, args.dataset)
    train_path = os.path.join(folder, f"train-{args.nlist}.fvecs")
    if not os.path.exists(train_path):
        sys.exit(f"{train_path} is missing: run scripts/bench/compare-faiss --frontier with this dataset and nlist first")
    base, queries = read_fvecs(os.path.join(folder, "base.fvecs")), read_fvecs(os.path.join(folder, "query.fvecs"))
    print("ground truth (exact search)", file=sys.stderr)
    flat = faiss.IndexFlatL2(base.shape[1])
    flat.add(base)
    _, truth = flat.search(queries, 10)
    print(f"FAISS {spec}: training and adding", file=sys.stderr)
    faiss.omp_set_num_threads(os.cpu_count())
    index = faiss.index_factory(base.shape[1], spec)
    index.train(read_fvecs(train_path))
    index.add(base)
    ivf = faiss.extract_index_ivf(index)
    faiss_bytes = len(faiss.serialize_index(index)) / len(base)
    graph_efs = [int(x) for x in args.faiss_hnsw_ef.split(",") if x]
    if graph_efs:
        print("FAISS HNSW32,Flat: adding", file=sys.stderr)
        graph = faiss.index_factory(base.shape[1], "HNSW32,Flat")
        graph.add(base)
        graph_bytes = len(faiss.serialize_index(graph)) / len(base)

    runs = {}

    def record(round_number, side, key, recall, qps, bytes_per_vector):
        print(f"round {round_number + 1}: {side} {key}: recall {recall:.4f}, {qps:,.0f} QPS", flush=True)
        runs.setdefault(key, dict(side=side, recall=recall, bytes=bytes_per_vector, qps=[]))["qps"].append(qps)

    for round_number in range(args.rounds):
        for nprobe, k_factor in faiss_points:
            ivf.nprobe, index.k_factor = nprobe, k_factor
            found, qps = timed(index, queries, args.repeats)
            record(round_number, "FAISS", f"{spec}, nprobe {nprobe}, k_factor {k_factor}", recall10(found, truth), qps, faiss_bytes)
        for ef in graph_efs:
            graph.hnsw.efSearch = ef
            found, qps = timed(graph, queries, args.repeats)
            record(round_number, "FAISS", f"HNSW32,Flat, efSearch {ef}", recall10(found, truth), qps, graph_bytes)
        command = [args.sightline, "bench", "--dataset", os.path.join(folder, "base.fvecs"),
                   "--queries", os.path.join(folder, "query.fvecs"), "--train", train_path, "--nlist", str(args.nlist),
                   "--m", str(args.m), *shlex.split(args.sightline_flags),
                   "--points", ",".join(f"{p}:{r}:{q:g}" for p, r, q in our_points),
                   "--threads", "1", "--latency-queries", "1", "--repeats", str(args.repeats), "--index", args.index, "--json"]
        print("$ " + " ".join(command), file=sys.stderr)
        rows = [json.loads(line) for line in subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()]
        # --points answers one row a point, in order.
        if len(rows) != len(our_points) or any((r["nprobe"], r["refine"]) != (p, k) for r, (p, k, _) in zip(rows, our_points)):
            sys.exit(f"sightline bench answered {len(rows)} rows for {len(our_points)} points, or in another order")
        for row, (_, _, probe_ratio) in zip(rows, our_points):
            ratio = f", probe ratio {probe_ratio:g}" if probe_ratio else ""
            record(round_number, "Sightline", f"{args.sightline_flags}, nprobe {row['nprobe']}, refine {row['refine']}{ratio}",
                   row["recall_at_10"], row["qps_1t"], row["index_bytes"] / len(base))
    print("fastest pass over all rounds:")
    for key, run in runs.items():
        print(f"  {run['side']} {key}: {max(run['qps']):,.0f} QPS")
    features = [f for f in ("avx512f", "avx512bw", "avx2", "fma") if f in open("/proc/cpuinfo").read().split()]
    print(f"\n{args.dataset}: {len(base)} base, {len(queries)} queries, d={base.shape[1]}; one thread, queries as one batch; "
          f"{args.rounds} rounds × {args.repeats} passes; CPU features: {', '.join(features)}; FAISS {faiss.__version__}")
    print(level_table(runs, [float(x) for x in args.levels.split(",")], args.rounds))


if __name__ == "__main__":
    main()
