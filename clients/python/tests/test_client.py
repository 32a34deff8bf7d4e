"""The Python client against a live cluster: every call, with numpy in and out, and typed errors."""

import numpy as np
import pytest

import sightline_client as sl
from fashion import images, labels


@pytest.fixture(scope="module")
def client(cluster):
    with sl.Client(cluster["url"], token=cluster["token"]) as c:
        yield c


def test_search_finds_each_stored_image_first(client, cluster):
    vectors, _ = images(50)
    result = client.search(vectors, k=5, nprobe=16, refine=4)
    assert result.ids.shape == (50, 5) and result.ids.dtype == np.uint64
    assert result.distances.dtype == np.float32
    assert list(result.ids[:, 0]) == list(range(50))
    assert np.all(result.distances[:, 0] == 0)
    assert np.all(np.diff(result.distances, axis=1) >= 0)
    assert not result.partial and result.missing_shards == []


def test_probe_ratio_finds_stored_images_and_bad_ratios_are_typed_errors(client):
    vectors, _ = images(20)
    found = client.search(vectors, k=3, nprobe=16, refine=4, probe_ratio=1.3)
    assert list(found.ids[:, 0]) == list(range(20))
    for ratio in (0.5, float("nan")):
        with pytest.raises(sl.BadRequest):
            client.search(vectors, k=3, nprobe=16, probe_ratio=ratio)


def test_search_of_one_vector_and_padding(client):
    vectors, _ = images(1)
    one = client.search(vectors[0], k=3, refine=4)
    assert one.ids.shape == (1, 3) and one.ids[0, 0] == 0


def test_add_search_delete_round_trip(client):
    rng = np.random.default_rng(7)
    ids = np.arange(900_000, 900_010, dtype=np.uint64)
    vectors = rng.random((10, 784), dtype=np.float32)
    added = client.add(ids, vectors, labels=np.arange(10), keys=[f"k{i}" for i in range(10)])
    assert (added.added, added.ignored) == (10, 0)
    assert client.add(ids, vectors).ignored == 10  # adds are idempotent
    found = client.search(vectors, k=1, nprobe=16, refine=4)
    assert list(found.ids[:, 0]) == list(ids)
    assert client.delete(ids) == 10
    assert client.delete(ids) == 0
    after = client.search(vectors, k=1, nprobe=16, refine=4)
    assert not set(after.ids[:, 0]) & set(ids)


def test_stats_counts_the_collection(client, cluster):
    stats = client.stats()
    assert stats["total_vectors"] == cluster["images"]
    assert len(stats["shards"]) == 2 and all(s["reachable"] for s in stats["shards"])
    assert sum(s["vector_count"] for s in stats["shards"]) == cluster["images"]


def test_verify_and_identify(client):
    vectors, _ = images(3)
    same = client.verify(vectors[0], vectors[0], threshold=1.0)
    assert same.same and same.distance == 0
    apart = client.verify(vectors[0], vectors[1], threshold=1.0)
    assert not apart.same and apart.distance > 1
    by_id = client.verify_ids(0, 1, threshold=1.0)
    assert by_id.distance == pytest.approx(apart.distance, rel=1e-5)
    # Identify ranks by the PQ distance, as a search without refine does.
    found = client.identify(vectors[2], threshold=20.0, nprobe=16)
    nearest = int(client.search(vectors[2], k=1, nprobe=16).ids[0, 0])
    assert found.found and found.id == nearest and found.label == labels(3000)[nearest]
    missing = client.identify(np.full(784, 0.5, dtype=np.float32), threshold=0.01)
    assert not missing.found and missing.id is None


def test_errors_are_typed(client, cluster):
    with pytest.raises(sl.BadRequest, match="dimension"):
        client.search(np.zeros((1, 10), dtype=np.float32))
    nan = np.zeros((1, 784), dtype=np.float32)
    nan[0, 3] = np.nan
    with pytest.raises(sl.BadRequest, match="NaN"):
        client.add([123_456_789], nan)
    with sl.Client(cluster["url"], token="not-the-token") as stranger, pytest.raises(sl.Unauthorized):
        stranger.stats()
    with sl.Client(cluster["url"], token=cluster["read_token"]) as reader:
        assert reader.search(images(1)[0], k=1).ids.shape == (1, 1)
        with pytest.raises(sl.Forbidden, match="write"):
            reader.add([5], images(1)[0])
        # A role refusal is also an Unauthorized (what callers caught before it had its own code).
        assert issubclass(sl.Forbidden, sl.Unauthorized)
    with pytest.raises(sl.NotFound):
        client.verify_ids(0, 987_654_321, threshold=1.0)


def test_unreachable_coordinator_is_a_transport_error():
    with sl.Client("tcp://127.0.0.1:9", token="x", timeout_ms=300) as nobody, pytest.raises(sl.TransportError) as raised:
        nobody.stats()
    assert raised.value.retryable
