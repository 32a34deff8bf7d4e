"""Search latency probe for scripts/bench/grow: sends one search at a time to the coordinator
(queries from an .fvecs file, in turn) until STOP_FILE exists, and writes one line per search:
unix time at the reply, latency in milliseconds, and whether the answer was partial."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--coordinator", required=True)
parser.add_argument("--token-file", required=True)
parser.add_argument("--queries", required=True, help=".fvecs file")
parser.add_argument("--nprobe", type=int, default=16)
parser.add_argument("--stop-file", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

out = tempfile.mkdtemp()
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "--proto_path=Proto", f"--python_out={out}", "Proto/sightline.proto"],
               check=True)
sys.path.insert(0, out)
import pynng  # noqa: E402
import sightline_pb2 as pb  # noqa: E402

raw = numpy.fromfile(args.queries, dtype=numpy.int32)
dimension = int(raw[0])
queries = raw.reshape(-1, dimension + 1)[:, 1:].view(numpy.float32)
token = open(args.token_file, "rb").read().strip()
with pynng.Req0(dial=args.coordinator, recv_timeout=10000, send_timeout=10000) as socket, open(args.out, "w") as log:
    request_id = 0
    while not os.path.exists(args.stop_file):
        request_id += 1
        query = queries[request_id % len(queries)]
        request = pb.Request(envelope=pb.Envelope(protocol_version=1, request_id=request_id, token=token),
                             search=pb.SearchRequest(vector=query.tolist(), options=pb.SearchOptions(k=10, nprobe=args.nprobe)))
        started = time.perf_counter()
        socket.send(request.SerializeToString())
        response = pb.Response.FromString(socket.recv())
        elapsed = (time.perf_counter() - started) * 1000
        partial = response.WhichOneof("body") != "search" or response.search.partial
        log.write(f"{time.time():.6f} {elapsed:.4f} {int(partial)}\n")
