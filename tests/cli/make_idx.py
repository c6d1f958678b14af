"""Writes small IDX files for the CLI tests into DIR: a 3-class 6x6 image problem (a bright
row, column or diagonal, with noise), train (gzip'd) and test (plain images, gzip'd labels)."""
import gzip
import random
import struct
import sys

out = sys.argv[1]
rng = random.Random(5)


def make(n):
    images, labels = bytearray(), bytearray()
    for i in range(n):
        c = i % 3
        k = rng.randrange(6)
        img = [rng.randrange(60) for _ in range(36)]
        for t in range(6):
            pos = (k * 6 + t) if c == 0 else (t * 6 + k) if c == 1 else (t * 6 + t)
            img[pos] = 200 + rng.randrange(56)
        images += bytes(img)
        labels.append(c)
    return (struct.pack(">HBBIII", 0, 8, 3, n, 6, 6) + bytes(images),
            struct.pack(">HBBI", 0, 8, 1, n) + bytes(labels))


train_images, train_labels = make(300)
test_images, test_labels = make(90)
with open(f"{out}/train-images", "wb") as f:
    f.write(train_images)
with gzip.open(f"{out}/train-images.gz", "wb") as f:
    f.write(train_images)
with gzip.open(f"{out}/train-labels.gz", "wb") as f:
    f.write(train_labels)
with open(f"{out}/test-images", "wb") as f:
    f.write(test_images)
with gzip.open(f"{out}/test-labels.gz", "wb") as f:
    f.write(test_labels)
