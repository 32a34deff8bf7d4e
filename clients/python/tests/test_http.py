"""Every HTTP route against a live cluster: a good request, a bad token, malformed JSON, a wrong
dimension and an oversized body, each answered with its status and a JSON error."""

import base64

import pytest

from fashion import images, labels
from helpers import call, declare_oversized, grey_pixels, png

OVERSIZED = 1_048_576 + 1  # the fixture's max_body_bytes + 1


def vector(row=0):
    return [float(v) for v in images(row + 1)[0][row]]


def thumbnail(cluster, image_id):
    status, body, headers = call(cluster, "GET", f"/v1/images/{image_id}", raw=True)
    assert status == 200 and headers["Content-Type"] == "image/png"
    return body


def assert_error(reply, status, code=None):
    got_status, body, _ = reply
    assert got_status == status, body
    assert isinstance(body, dict) and "message" in body["error"], body
    if code:
        assert body["error"]["code"] == code


JSON_ROUTES = [
    ("POST", "/v1/search", lambda: {"vector": vector(), "k": 3}, lambda: {"vector": [1.0, 2.0], "k": 3}),
    ("POST", "/v1/verify", lambda: {"vectors": [vector(0), vector(1)], "threshold": 1.0},
     lambda: {"vectors": [[1.0], [2.0]], "threshold": 1.0}),
    ("POST", "/v1/identify", lambda: {"vector": vector(2), "threshold": 1.0}, lambda: {"vector": [0.5] * 783, "threshold": 1.0}),
    ("POST", "/v1/vectors", lambda: {"ids": [800_001], "vectors": [vector(3)]}, lambda: {"ids": [800_002], "vectors": [[1.0] * 785]}),
    ("DELETE", "/v1/vectors", lambda: {"ids": [800_001]}, None),
]


@pytest.mark.parametrize("method,path,good,wrong_dimension", JSON_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in JSON_ROUTES])
def test_json_route(cluster, method, path, good, wrong_dimension):
    token = "write" if path == "/v1/vectors" else "read"
    status, body, headers = call(cluster, method, path, good(), token=token)
    assert status == 200, body
    assert headers["Content-Type"] == "application/json"
    assert_error(call(cluster, method, path, good(), token=None), 401, "UNAUTHORIZED")
    assert_error(call(cluster, method, path, good(), token="wrong-token"), 401, "UNAUTHORIZED")
    assert_error(call(cluster, method, path, b"{\"vector\": [1, 2", token=token, content_type="application/json"), 400, "BAD_REQUEST")
    assert_error(call(cluster, method, path, b"[1, 2, 3]", token=token, content_type="application/json"), 400, "BAD_REQUEST")
    if wrong_dimension:
        reply = call(cluster, method, path, wrong_dimension(), token=token)
        assert_error(reply, 400, "BAD_REQUEST")
        assert "dimension" in reply[1]["error"]["message"]
    assert_error(declare_oversized(cluster, method, path, OVERSIZED, token=token), 413)
    assert_error(declare_oversized(cluster, method, path, OVERSIZED, token=None), 401)  # the token before the length


def test_search_answers(cluster):
    status, body, _ = call(cluster, "POST", "/v1/search", {"vectors": [vector(0), vector(1)], "k": 4, "refine": 4})
    assert status == 200
    assert [r["ids"][0] for r in body["results"]] == [0, 1]
    assert body["results"][0]["distances"][0] == 0
    assert body["results"][0]["labels"][0] == int(labels(1)[0])
    assert body["partial"] is False and body["missing_shards"] == []
    status, by_id, _ = call(cluster, "POST", "/v1/search", {"ids": [7], "k": 4, "refine": 4})
    assert status == 200 and by_id["results"][0]["ids"][0] == 7
    assert_error(call(cluster, "POST", "/v1/search", {"ids": [999_999_999]}), 404, "NOT_FOUND")
    assert_error(call(cluster, "POST", "/v1/search", {"vector": vector(), "k": 0}), 400, "BAD_REQUEST")
    assert_error(call(cluster, "POST", "/v1/search", {"vector": vector(), "vectors": [vector()]}), 400, "BAD_REQUEST")


def test_search_by_image_of_any_size_and_colour(cluster):
    stored = thumbnail(cluster, 11)
    status, body, _ = call(cluster, "POST", "/v1/search/image?k=3&refine=4", stored, content_type="image/png")
    assert status == 200 and body["results"][0]["ids"][0] == 11 and body["results"][0]["distances"][0] == 0
    # The same image at 56×56 in RGB: fitted back to 28×28 grey, it still finds itself first.
    pixels, width, height = grey_pixels(stored)
    large = [pixels[(y // 2) * width + x // 2] for y in range(2 * height) for x in range(2 * width)]
    status, body, _ = call(cluster, "POST", "/v1/search/image?k=3&refine=4", png(large, 2 * width, 2 * height, colour=True),
                           content_type="image/png")
    assert status == 200 and body["results"][0]["ids"][0] == 11 and body["results"][0]["distances"][0] < 1e-3
    assert_error(call(cluster, "POST", "/v1/search/image", stored, token=None, content_type="image/png"), 401)
    assert_error(call(cluster, "POST", "/v1/search/image", b"GIF89a not an image", content_type="image/gif"), 400, "BAD_REQUEST")
    assert_error(call(cluster, "POST", "/v1/search/image", stored[: len(stored) // 2], content_type="image/png"), 400, "BAD_REQUEST")
    assert_error(call(cluster, "POST", "/v1/search/image?k=abc", stored, content_type="image/png"), 400, "BAD_REQUEST")
    assert_error(declare_oversized(cluster, "POST", "/v1/search/image", OVERSIZED), 413)


def test_verify_and_identify_by_image(cluster):
    a, b = thumbnail(cluster, 0), thumbnail(cluster, 1)
    encoded = [base64.b64encode(x).decode() for x in (a, a)]
    status, body, _ = call(cluster, "POST", "/v1/verify", {"images": encoded, "threshold": 1.0})
    assert status == 200 and body["same"] is True and body["distance"] == 0
    status, body, _ = call(cluster, "POST", "/v1/verify", {"ids": [0, 1], "threshold": 1.0})
    assert status == 200 and body["same"] is False
    assert_error(call(cluster, "POST", "/v1/verify", {"ids": [0, 1]}), 400, "BAD_REQUEST")  # raw pixels: no calibrated threshold
    # Identify ranks by the PQ distance, as a search without refine does.
    status, body, _ = call(cluster, "POST", "/v1/identify", {"image": base64.b64encode(b).decode(), "threshold": 20.0})
    nearest = call(cluster, "POST", "/v1/search", {"ids": [1], "k": 1})[1]["results"][0]["ids"][0]
    assert status == 200 and body["found"] is True and body["id"] == nearest
    assert_error(call(cluster, "POST", "/v1/identify", {"image": "%%% not base64 %%%", "threshold": 1.0}), 400)


def test_add_with_thumbnail_and_delete(cluster):
    image = png([200] * 784, 28, 28)
    body = {"ids": [700_001], "vectors": [[0.5] * 784], "labels": [3], "keys": ["grey-square"],
            "thumbnails": [base64.b64encode(image).decode()]}
    status, added, _ = call(cluster, "POST", "/v1/vectors", body, token="write")
    assert status == 200 and added == {"added": 1, "ignored": 0}
    status, stored, _ = call(cluster, "GET", "/v1/images/700001", raw=True)
    assert status == 200 and stored == image
    assert_error(call(cluster, "POST", "/v1/vectors", body, token="read"), 403, "FORBIDDEN")
    status, deleted, _ = call(cluster, "DELETE", "/v1/vectors", {"ids": [700_001]}, token="write")
    assert status == 200 and deleted == {"deleted": 1}
    assert_error(call(cluster, "GET", "/v1/images/700001"), 404, "NOT_FOUND")
    mismatched = dict(body, thumbnails=[])
    mismatched["ids"], mismatched["vectors"] = [1, 2], [[0.5] * 784]
    assert_error(call(cluster, "POST", "/v1/vectors", mismatched, token="write"), 400, "BAD_REQUEST")


def test_read_only_routes(cluster):
    status, health, _ = call(cluster, "GET", "/healthz", token=None)
    assert status == 200 and health == {"status": "ok", "shards": 2, "shards_up": 2}
    status, stats, _ = call(cluster, "GET", "/v1/stats", token="read")
    assert status == 200 and stats["total_vectors"] >= cluster["images"] and stats["dimension"] == 784
    assert_error(call(cluster, "GET", "/v1/stats", token=None), 401)
    status, sample, _ = call(cluster, "GET", "/v1/sample?count=5")
    assert status == 200 and len(sample["ids"]) == 5 and all(0 <= i < cluster["images"] for i in sample["ids"])
    assert_error(call(cluster, "GET", "/v1/sample?count=1000"), 400, "BAD_REQUEST")
    assert_error(call(cluster, "GET", "/v1/images/notanumber"), 400, "BAD_REQUEST")
    assert_error(call(cluster, "GET", "/v1/images/5", token=None), 401)
    assert_error(declare_oversized(cluster, "GET", "/v1/stats", OVERSIZED), 413)
    assert_error(declare_oversized(cluster, "GET", "/v1/stats", 10), 400)  # GET routes take no body
    status, _, _ = call(cluster, "GET", "/no/such/route")
    assert status == 404
    status, _, _ = call(cluster, "PUT", "/v1/search", {"vector": vector()})
    assert status == 405


def test_the_page_and_its_files_are_served(cluster):
    for path, kind in [("/", "text/html"), ("/app.js", "javascript"), ("/style.css", "text/css")]:
        status, body, headers = call(cluster, "GET", path, token=None, raw=True)
        assert status == 200 and kind in headers["Content-Type"] and len(body) > 100
