"""A client of the coordinator's nng endpoint (protobuf over REQ/REP), with numpy arrays in and out."""

import itertools
import threading
from dataclasses import dataclass, field

import numpy as np
import pynng

from . import errors
from . import sightline_pb2 as pb

PROTOCOL_VERSION = 1
# Ids of a query that found fewer than k neighbours are padded with NO_ID (distance +inf).
NO_ID = np.iinfo(np.uint64).max


@dataclass
class SearchResult:
    """`ids[i]` and `distances[i]` are query i's neighbours, best first (padded with NO_ID / inf)."""
    ids: np.ndarray
    distances: np.ndarray
    partial: bool = False
    missing_shards: list = field(default_factory=list)


@dataclass
class AddResult:
    added: int
    ignored: int


@dataclass
class VerifyResult:
    distance: float
    same: bool
    approximate: bool


@dataclass
class IdentifyResult:
    found: bool
    id: int = None
    label: int = None
    key: str = None
    distance: float = float("inf")
    partial: bool = False


class Client:
    """Talks to a coordinator, e.g. `Client("tcp://127.0.0.1:7700", token_file="runs/local/token")`.

    One request at a time per client (calls from several threads take turns); open one client per
    thread for parallel requests.
    """

    def __init__(self, url="tcp://127.0.0.1:7700", token=None, token_file=None, timeout_ms=10_000, collection=""):
        if token is None and token_file is not None:
            with open(token_file, "rb") as f:
                token = f.read().strip()
        self.token = token.encode() if isinstance(token, str) else (token or b"")
        self.collection = collection
        self.timeout_ms = timeout_ms
        self._socket = pynng.Req0(dial=url, block_on_dial=False, recv_timeout=timeout_ms, send_timeout=timeout_ms)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def close(self):
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def search(self, queries, k=10, nprobe=0, refine=0, deadline_ms=0, probe_ratio=0.0):
        """Nearest neighbours of each row of `queries` (n × d, or one d-vector). `probe_ratio` (0: off,
        else ≥ 1) visits only the nprobe lists within that ratio of each query's 4th-nearest centroid."""
        matrix = _matrix(queries)
        request = self._request(deadline_ms)
        batch = request.search_batch
        batch.dimension = matrix.shape[1]
        batch.vectors.extend(matrix.ravel().tolist())
        batch.options.k, batch.options.nprobe, batch.options.refine = k, nprobe, refine
        batch.options.probe_ratio = probe_ratio
        reply = self._call(request, "search_batch")
        ids = np.full((matrix.shape[0], k), NO_ID, dtype=np.uint64)
        distances = np.full((matrix.shape[0], k), np.inf, dtype=np.float32)
        for row, neighbors in enumerate(reply.results):
            count = min(k, len(neighbors.ids))
            ids[row, :count] = np.asarray(neighbors.ids[:count], dtype=np.uint64)
            distances[row, :count] = np.asarray(neighbors.distances[:count], dtype=np.float32)
        return SearchResult(ids, distances, reply.partial, list(reply.missing_shards))

    def add(self, ids, vectors, labels=None, keys=None, thumbnails=None):
        """Stores `vectors` (n × d) under `ids`; ids already stored are ignored (adds are idempotent).

        `thumbnails`: one small PNG or JPEG (bytes) per id, shown by the web page.
        """
        matrix = _matrix(vectors)
        ids = np.asarray(ids, dtype=np.uint64).ravel()
        request = self._request(0)
        add = request.add
        add.dimension = matrix.shape[1]
        add.ids.extend(ids.tolist())
        add.vectors.extend(matrix.ravel().tolist())
        if labels is not None:
            add.labels.extend(np.asarray(labels, dtype=np.int32).ravel().tolist())
        if keys is not None:
            add.keys.extend(keys)
        if thumbnails is not None:
            add.thumbnails.extend(bytes(t) for t in thumbnails)
        reply = self._call(request, "add", timeout_ms=max(self.timeout_ms, 60_000))
        return AddResult(reply.added, reply.ignored)

    def delete(self, ids):
        """Deletes `ids`; returns how many were stored."""
        request = self._request(0)
        request.delete.ids.extend(np.asarray(ids, dtype=np.uint64).ravel().tolist())
        return self._call(request, "delete", timeout_ms=max(self.timeout_ms, 60_000)).deleted

    def stats(self):
        """`{"total_vectors": n, "shards": [{"shard", "url", "reachable", "vector_count", ...}]}`."""
        reply = self._call(self._request(0), "stats", body="stats")
        shards = [{"shard": s.shard, "url": s.url, "reachable": s.reachable, "vector_count": s.vector_count,
                   "memory_bytes": s.memory_bytes, "queries_served": s.queries_served,
                   "latency_p50_ms": s.latency_p50_ms, "latency_p95_ms": s.latency_p95_ms,
                   "latency_p99_ms": s.latency_p99_ms} for s in reply.shards]
        return {"total_vectors": reply.total_vectors, "shards": shards}

    def verify(self, a, b, threshold):
        """Are two vectors the same thing? Squared L2 distance against `threshold`."""
        request = self._request(0)
        request.verify.a.extend(_vector(a).tolist())
        request.verify.b.extend(_vector(b).tolist())
        request.verify.threshold = threshold
        reply = self._call(request, "verify")
        return VerifyResult(reply.distance, reply.same, reply.approximate)

    def verify_ids(self, id_a, id_b, threshold):
        """The same for two stored ids (their stored vectors)."""
        request = self._request(0)
        request.verify.id_a, request.verify.id_b, request.verify.by_id = id_a, id_b, True
        request.verify.threshold = threshold
        reply = self._call(request, "verify")
        return VerifyResult(reply.distance, reply.same, reply.approximate)

    def identify(self, vector, threshold, nprobe=0):
        """Is the thing in `vector` stored? Its nearest stored item when within `threshold`."""
        request = self._request(0)
        request.identify.vector.extend(_vector(vector).tolist())
        request.identify.threshold = threshold
        request.identify.nprobe = nprobe
        reply = self._call(request, "identify")
        if not reply.found:
            return IdentifyResult(False, distance=reply.distance, partial=reply.partial)
        return IdentifyResult(True, reply.id, reply.label if reply.has_label else None, reply.key or None, reply.distance,
                              reply.partial)

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, deadline_ms):
        request = pb.Request()
        envelope = request.envelope
        envelope.protocol_version = PROTOCOL_VERSION
        envelope.request_id = next(self._ids)
        envelope.token = self.token
        envelope.deadline_ms = deadline_ms
        envelope.collection = self.collection
        return request

    def _call(self, request, expected, timeout_ms=None, body=None):
        if body is not None:
            getattr(request, body).SetInParent()
        frame = request.SerializeToString()
        with self._lock:
            try:
                if timeout_ms is not None:
                    self._socket.recv_timeout = timeout_ms
                self._socket.send(frame)
                raw = self._socket.recv()
            except pynng.exceptions.Timeout as error:
                raise errors.TransportError(f"no answer within {timeout_ms or self.timeout_ms} ms: is the coordinator running?") \
                    from error
            except pynng.exceptions.NNGException as error:
                raise errors.TransportError(str(error)) from error
            finally:
                if timeout_ms is not None:
                    self._socket.recv_timeout = self.timeout_ms
        response = pb.Response()
        try:
            response.ParseFromString(raw)
        except Exception as error:  # a frame that is not a Response
            raise errors.Internal(f"unreadable reply: {error}") from error
        kind = response.WhichOneof("body")
        if kind == "error":
            name = pb.ErrorCode.Name(response.error.code)
            raise errors.BY_CODE.get(name, errors.Internal)(response.error.message, response.error.committed_ids)
        if kind != expected:
            raise errors.Internal(f"expected a {expected} reply, got {kind}")
        return getattr(response, kind)


def _matrix(values):
    matrix = np.asarray(values, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise errors.BadRequest(f"expected an n × d array of vectors, got shape {matrix.shape}")
    return matrix


def _vector(values):
    vector = np.asarray(values, dtype=np.float32).ravel()
    if vector.size == 0:
        raise errors.BadRequest("expected a non-empty vector")
    return vector
