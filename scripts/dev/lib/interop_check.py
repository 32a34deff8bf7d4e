"""A client in another language: Python with the standard protobuf compiler's output and pynng.
Generates sightline_pb2 from Proto/sightline.proto, then sends health, add and search requests to
a running coordinator and checks the replies. Called by scripts/dev/interop-check."""
import argparse
import os
import random
import subprocess
import sys
import tempfile

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--coordinator", default="tcp://127.0.0.1:7700")
parser.add_argument("--token", default=os.environ.get("SIGHTLINE_TOKEN", ""))
parser.add_argument("--dimension", type=int, default=784)
args = parser.parse_args()

out = tempfile.mkdtemp()
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "--proto_path=Proto", f"--python_out={out}", "Proto/sightline.proto"], check=True)
sys.path.insert(0, out)
import pynng  # noqa: E402
import sightline_pb2 as pb  # noqa: E402


def call(socket, request_id, token=None, **body):
    request = pb.Request(envelope=pb.Envelope(protocol_version=1, request_id=request_id, token=(args.token if token is None else token).encode()), **body)
    socket.send(request.SerializeToString())
    response = pb.Response.FromString(socket.recv())
    assert response.request_id == request_id, response
    return response


with pynng.Req0(dial=args.coordinator, recv_timeout=10000, send_timeout=10000) as socket:
    health = call(socket, 1, health=pb.HealthRequest())
    print("health:", health.health.state, "shards:", len(health.health.shards))
    assert health.WhichOneof("body") == "health"

    denied = call(socket, 2, token="not-the-token", health=pb.HealthRequest())
    assert denied.WhichOneof("body") == "error" and denied.error.code == pb.UNAUTHORIZED, denied
    print("wrong token:", pb.ErrorCode.Name(denied.error.code), "-", denied.error.message)

    rng = random.Random(7)
    ids = [10_000_000 + i for i in range(20)]
    vectors = [rng.random() for _ in range(20 * args.dimension)]
    added = call(socket, 3, add=pb.AddRequest(dimension=args.dimension, ids=ids, vectors=vectors))
    assert added.WhichOneof("body") == "add", added
    print("add:", added.add.added, "added,", added.add.ignored, "already present")

    query = vectors[:args.dimension]
    found = call(socket, 4, search=pb.SearchRequest(vector=query, options=pb.SearchOptions(k=3, nprobe=16)))
    assert found.WhichOneof("body") == "search", found
    print("search: ids", list(found.search.neighbors.ids), "distances", list(found.search.neighbors.distances))
    assert found.search.neighbors.ids[0] == ids[0], "the added vector should be its own nearest neighbour"

    removed = call(socket, 5, delete=pb.DeleteRequest(ids=ids))
    print("delete:", removed.delete.deleted)
print("interop check passed")
