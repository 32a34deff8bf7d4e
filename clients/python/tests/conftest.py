"""A live Sightline cluster for the client, HTTP and browser tests: a coordinator and two workers
on loopback, started from the release binaries, holding 3,000 Fashion-MNIST images with their
thumbnails. Stopped (by pid) when the session ends."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("SIGHTLINE_BIN", REPO / ".build" / "release"))
IMAGES = 3000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="session")
def cluster():
    work = Path(tempfile.mkdtemp(prefix="sightline-pytest-"))
    codebooks = work / "codebooks.slix"
    run(BIN / "sightline", "train", "--dataset", "fashion-mnist", "--nlist", 16, "--m", 16, "--store-vectors", "--iterations", 4,
        "--out", codebooks)
    ports = [free_port() for _ in range(4)]
    token, write_token, read_token = "pytest-cluster-token", "pytest-write-token", "pytest-read-token"
    url = f"tcp://127.0.0.1:{ports[0]}"
    http = f"http://127.0.0.1:{ports[3]}"
    config = work / "cluster.toml"
    config.write_text(f"""
cluster = "pytest"
token = "{token}"
listen = "{url}"
data = "{work}/coordinator"
deadline_ms = 5000

[tokens]
write = "{write_token}"
read = "{read_token}"

[http]
listen = "{http}"
web_root = "{REPO}/cluster/web"
descriptor_model = "pixels"
max_body_bytes = 1048576

[index]
dimension = 784
nlist = 16
m = 16
store_vectors = true
nprobe = 16

[[workers]]
shard = 0
url = "tcp://127.0.0.1:{ports[1]}"

[[workers]]
shard = 1
url = "tcp://127.0.0.1:{ports[2]}"
""")
    processes = []
    env = dict(os.environ, SIGHTLINE_TOKEN=token)
    try:
        for shard in range(2):
            log = open(work / f"worker-{shard}.log", "w")
            processes.append(subprocess.Popen([str(BIN / "sightline-worker"), "--listen", f"tcp://127.0.0.1:{ports[1 + shard]}",
                                               "--data", str(work / f"worker-{shard}"), "--cluster", "pytest", "--shard", str(shard)],
                                              stdout=log, stderr=subprocess.STDOUT, env=env))
        log = open(work / "coordinator.log", "w")
        processes.append(subprocess.Popen([str(BIN / "sightline-coordinator"), "--config", str(config), "--codebooks", str(codebooks)],
                                          stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
        wait_ready(http, token, work)
        token_file = work / "token"
        token_file.write_text(token)
        run(BIN / "sightline", "ingest", "--coordinator", url, "--token-file", token_file, "--dataset", "fashion-mnist",
            "--limit", IMAGES, "--thumbnails", "fashion-mnist")
        yield {"url": url, "http": http, "token": token, "write_token": write_token, "read_token": read_token, "work": work,
               "images": IMAGES}
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(http, token, work):
    """Until /v1/stats shows every shard reachable (the coordinator has pushed its codebooks)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            request = urllib.request.Request(http + "/v1/stats", headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(request, timeout=2) as response:
                stats = json.load(response)
            if stats["shards"] and all(shard["reachable"] for shard in stats["shards"]):
                return
        except OSError:
            pass
        time.sleep(0.2)
    logs = "\n".join(p.read_text()[-2000:] for p in sorted(work.glob("*.log")))
    raise RuntimeError("the cluster did not come up within 60 s:\n" + logs)
