"""/metrics parses as Prometheus text (prometheus_client's own parser) and its counters move."""

from prometheus_client.parser import text_string_to_metric_families

from fashion import images
from helpers import call


def scrape(cluster):
    status, body, headers = call(cluster, "GET", "/metrics", token="read", raw=True)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_parse_and_move(cluster):
    before = scrape(cluster)
    assert value(before, "sightline_shard_up", shard="0") == 1
    assert sum(value(before, "sightline_shard_vectors", shard=s) for s in ("0", "1")) >= cluster["images"]
    for _ in range(3):
        call(cluster, "POST", "/v1/search", {"vector": [float(v) for v in images(1)[0][0]], "k": 2})
    call(cluster, "POST", "/v1/search", {"vector": [1.0], "k": 2})  # refused by the HTTP layer: no coordinator request
    call(cluster, "POST", "/v1/verify", {"ids": [0, 555_555_555], "threshold": 1.0})  # the coordinator's NOT_FOUND
    call(cluster, "GET", "/v1/stats", token="wrong")
    call(cluster, "POST", "/v1/vectors", {"ids": [600_001, 600_002], "vectors": [[0.25] * 784] * 2}, token="write")
    after = scrape(cluster)
    # A one-query search is a search_batch of one on the wire.
    assert value(after, "sightline_requests_total", kind="search_batch") - value(before, "sightline_requests_total",
                                                                                 kind="search_batch") == 3
    assert value(after, "sightline_request_errors_total", kind="verify", code="notFound") - \
        value(before, "sightline_request_errors_total", kind="verify", code="notFound") == 1
    assert value(after, "sightline_request_seconds_count", kind="search_batch") - \
        value(before, "sightline_request_seconds_count", kind="search_batch") == 3
    route = "POST /v1/search"
    assert value(after, "sightline_http_requests_total", route=route, status="200") - \
        value(before, "sightline_http_requests_total", route=route, status="200") == 3
    assert value(after, "sightline_http_requests_total", route=route, status="400") - \
        value(before, "sightline_http_requests_total", route=route, status="400") == 1
    assert value(after, "sightline_http_requests_total", route="GET /v1/stats", status="401") - \
        value(before, "sightline_http_requests_total", route="GET /v1/stats", status="401") == 1
    assert value(after, "sightline_vectors_added_total") - value(before, "sightline_vectors_added_total") == 2
    assert value(after, "sightline_ingest_vectors_per_second") > 0
    shard_calls = sum(value(after, "sightline_shard_call_seconds_count", shard=s) for s in ("0", "1"))
    assert shard_calls > sum(value(before, "sightline_shard_call_seconds_count", shard=s) for s in ("0", "1"))
    call(cluster, "DELETE", "/v1/vectors", {"ids": [600_001, 600_002]}, token="write")
    assert value(scrape(cluster), "sightline_vectors_deleted_total") - value(after, "sightline_vectors_deleted_total") == 2
