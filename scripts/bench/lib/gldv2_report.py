"""Table and plots for scripts/bench/gldv2: reads results.jsonl, writes results.md and PNG plots."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(results_path, docs, training_path, suffix=""):
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    training = json.load(open(training_path)) if training_path else {}
    lines = ["| workers | clients | nprobe | 10-R@10 | R@100 | label R@1 | mAP@100 | QPS | p50 ms | p95 ms | p99 ms |"
             " ingest /s | max worker MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| {workers} | {clients} | {nprobe} | {recall_at_10:.4f} | {r100:.4f} | {lr1:.4f} | {map:.4f} | {qps:,.0f} |"
                     " {p50_ms:.2f} | {p95_ms:.2f} | {p99_ms:.2f} | {ingest:,.0f} | {mem:.1f} |".format(
                         r100=r.get("recall_at_100", 0), lr1=r.get("label_r_at_1", 0), map=r.get("map_at_100", 0),
                         ingest=r["ingest_per_second"], mem=r["max_worker_memory_bytes"] / 1e6, **r))
    if "training_seconds" in training:
        lines.append("")
        lines.append(f"Training (k-means and PQ on the training split): {training['training_seconds']:.0f} s.")
    open(f"{docs}/results{suffix}.md", "w").write("\n".join(lines) + "\n")

    workers = sorted({r["workers"] for r in rows})
    clients = sorted({r["clients"] for r in rows})
    figure, axis = plt.subplots(figsize=(6, 4))
    for count in workers:
        for n in clients:
            points = sorted((r["recall_at_10"], r["qps"]) for r in rows if r["workers"] == count and r["clients"] == n)
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{count} worker(s), {n} client(s)")
    axis.set_xlabel("10-recall@10")
    axis.set_ylabel("searches/s")
    axis.set_title("Recall against throughput, synthetic GLDv2")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(f"{docs}/recall-vs-qps{suffix}.png", dpi=110)

    figure, axis = plt.subplots(figsize=(6, 4))
    top = max(r["nprobe"] for r in rows)
    for key, name in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        for n in clients:
            points = sorted((r["workers"], r[key]) for r in rows if r["nprobe"] == top and r["clients"] == n)
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{name}, {n} client(s)")
    axis.set_xlabel("workers")
    axis.set_ylabel("latency (ms)")
    axis.set_xscale("log", base=2)
    axis.set_title(f"Latency percentiles against workers (nprobe {top})")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(f"{docs}/latency-vs-workers{suffix}.png", dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None, sys.argv[4] if len(sys.argv) > 4 else "")
