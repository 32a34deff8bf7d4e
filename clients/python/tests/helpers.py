"""HTTP calls and small images for the tests (the standard library only)."""

import json
import struct
import urllib.error
import urllib.request
import zlib


def call(cluster, method, path, body=None, token="cluster", content_type=None, raw=False):
    """(status, parsed JSON or bytes, headers). `token`: "cluster", "read", "write", None (no header) or a literal."""
    headers = {}
    tokens = {"cluster": cluster["token"], "read": cluster["read_token"], "write": cluster["write_token"]}
    if token is not None:
        headers["Authorization"] = "Bearer " + tokens.get(token, token)
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
        headers["Content-Type"] = content_type or ("application/json" if not isinstance(body, (bytes, bytearray)) else
                                                   "application/octet-stream")
    request = urllib.request.Request(cluster["http"] + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status, reply_headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        payload, status, reply_headers = error.read(), error.code, error.headers
    if raw:
        return status, payload, reply_headers
    try:
        return status, json.loads(payload) if payload else None, reply_headers
    except ValueError:
        return status, payload, reply_headers


def png(pixels, width, height, colour=False):
    """An 8-bit PNG (grey, or RGB with the grey value in every channel) from row-major bytes."""
    rows = b""
    for y in range(height):
        row = pixels[y * width:(y + 1) * width]
        rows += b"\0" + (bytes(v for p in row for v in (p, p, p)) if colour else bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if colour else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def grey_pixels(png_bytes):
    """Pixels of an 8-bit grey, non-interlaced PNG as written by Sightline (filter bytes undone)."""
    offset, width, height, data = 8, 0, 0, b""
    while offset < len(png_bytes):
        length = struct.unpack(">I", png_bytes[offset:offset + 4])[0]
        kind = png_bytes[offset + 4:offset + 8]
        content = png_bytes[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", content[:8])
        elif kind == b"IDAT":
            data += content
        offset += 12 + length
    raw = zlib.decompress(data)
    out, previous = [], [0] * width
    for y in range(height):
        line = raw[y * (width + 1):(y + 1) * (width + 1)]
        kind, row = line[0], list(line[1:])
        for x in range(width):
            left = row[x - 1] if x > 0 else 0
            up = previous[x]
            upper_left = previous[x - 1] if x > 0 else 0
            if kind == 1:
                row[x] = (row[x] + left) & 255
            elif kind == 2:
                row[x] = (row[x] + up) & 255
            elif kind == 3:
                row[x] = (row[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                row[x] = (row[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else upper_left)) & 255
        out += row
        previous = row
    return out, width, height


def declare_oversized(cluster, method, path, length, token="cluster"):
    """Sends only the headers of a request whose Content-Length is `length` (no body follows): the
    server must answer from the headers alone. (status, parsed JSON, headers)."""
    import http.client
    host, port = cluster["http"].removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest(method, path)
    tokens = {"cluster": cluster["token"], "read": cluster["read_token"], "write": cluster["write_token"]}
    if token is not None:
        connection.putheader("Authorization", "Bearer " + tokens.get(token, token))
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else None, response.headers
