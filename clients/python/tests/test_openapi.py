"""The OpenAPI document served at /openapi.json (kept in the repository as cluster/web/openapi.json)
matches the server: every documented operation answers (no 404/405), every route of the server
is documented, and each documented 200 reply carries the properties its schema requires."""

import json
from pathlib import Path

from fashion import images
from helpers import call

REPO = Path(__file__).resolve().parents[3]

EXAMPLES = {
    ("post", "/v1/search"): {"vector": None, "k": 3},
    ("post", "/v1/verify"): {"ids": [0, 1], "threshold": 1.0},
    ("post", "/v1/identify"): {"vector": None, "threshold": 1.0},
    ("post", "/v1/vectors"): {"ids": [650_001], "vectors": [None]},
    ("delete", "/v1/vectors"): {"ids": [650_001]},
}


def fill(body):
    vector = [float(v) for v in images(1)[0][0]]
    body = json.loads(json.dumps(body))
    for key, value in body.items():
        if value is None:
            body[key] = vector
        elif isinstance(value, list) and value and value[0] is None:
            body[key] = [vector]
    return body


def resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def test_document_matches_the_server(cluster):
    status, served, _ = call(cluster, "GET", "/openapi.json", token=None)
    assert status == 200
    assert served == json.loads((REPO / "cluster/web/openapi.json").read_text())
    assert served["openapi"].startswith("3.")
    documented = {(method, path) for path, item in served["paths"].items() for method in item}
    stats = call(cluster, "GET", "/v1/stats")[1]
    thumbnail_id = call(cluster, "GET", "/v1/sample?count=1")[1]["ids"][0]
    for method, path in sorted(documented):
        concrete = path.replace("{id}", str(thumbnail_id))
        operation = served["paths"][path][method]
        token = None if operation.get("security") == [] else ("write" if path == "/v1/vectors" else "cluster")
        body = None
        if method in ("post", "delete"):
            if path == "/v1/search/image":
                body = call(cluster, "GET", f"/v1/images/{thumbnail_id}", raw=True)[1]
            else:
                body = fill(EXAMPLES[(method, path)])
        status, reply, headers = call(cluster, method.upper(), concrete, body, token=token,
                                      content_type="image/png" if path == "/v1/search/image" else None)
        assert status == 200, (method, path, reply)
        assert str(status) in operation["responses"]
        content = operation["responses"]["200"]["content"]
        kind = headers["Content-Type"].split(";")[0]
        assert kind in content, (method, path, kind)
        schema = resolve(served, content[kind].get("schema", {}))
        for name in schema.get("required", []):
            assert name in reply, (method, path, name)
        for name in operation["responses"]:
            assert name in ("200", "400", "401", "403", "404", "413", "503", "504", "default"), name
        if method == "get" and path == "/v1/stats":
            assert reply["total_vectors"] == stats["total_vectors"]
    # Every route the server answers is documented: undocumented paths are 404/405.
    for method, path in [("GET", "/v1/search"), ("POST", "/v1/stats"), ("GET", "/v1/nothing")]:
        assert call(cluster, method, path)[0] in (404, 405)
