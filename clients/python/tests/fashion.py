"""The Fashion-MNIST training images the cluster fixture ingests (id = row), read like Sightline does."""

import gzip

import numpy as np

IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
LABELS = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"


def images(count):
    with gzip.open(IMAGES) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return (raw.reshape(-1, 784)[:count].astype(np.float32) / 255), raw.reshape(-1, 784)[:count]


def labels(count):
    with gzip.open(LABELS) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:count].astype(np.int32)
