#!/usr/bin/env python3
"""Deep features for Fashion-MNIST: trains a small CNN and writes its penultimate layer.

`annbench dataset prepare fashion-mnist-cnn-<dim>-<metric>` runs this script, then computes
exact ground truth in C++ and writes the ANN-Benchmarks file. Run by hand it writes the
features file only:

    /usr/bin/python3 datasets/cnn_features.py --out features.hdf5 --dim 64

The output (HDF5) holds `train` (N x dim float32), `test` (Q x dim float32), `train_labels`
and `test_labels` (int32 class ids) and root attributes describing the model and its training
(architecture, epochs, seed, learning rate, batch size, test accuracy, torch version, ...).

Deterministic for a given seed and thread count: seeded initialisation and shuffling, and
torch.use_deterministic_algorithms(True). Exit status 3 means a Python package is missing.
"""

import argparse
import gzip
import os
import sys
import time

MISSING_PACKAGE_EXIT = 3
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
# Mean and standard deviation of Fashion-MNIST's training pixels (scaled to 0..1): fixed
# constants rather than statistics of the subset, so a subset sees the same input scaling.
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
CLASSES = 10


def fail(message, status=1):
    print(f"cnn_features.py: {message}", file=sys.stderr)
    sys.exit(status)


try:
    import h5py
    import numpy as np
except ImportError as error:
    fail(f"{error.name} is not installed for {sys.executable} "
         "(apt-get install python3-numpy python3-h5py)", MISSING_PACKAGE_EXIT)
try:
    import torch
    from torch import nn
except ImportError:
    fail(f"PyTorch is not installed for {sys.executable}: it trains the CNN "
         "(apt-get install --no-install-recommends python3-torch)", MISSING_PACKAGE_EXIT)


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="features file to write (HDF5)")
    parser.add_argument("--data-dir", default=FASHION_MNIST_DIR,
                        help="folder with the Fashion-MNIST IDX files (.gz or raw)")
    parser.add_argument("--dim", type=positive_int, default=64,
                        help="feature dimension (width of the penultimate layer)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=positive_int, default=3)
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--train-images", type=positive_int, default=None,
                        help="use only the first N training images (default: all 60,000)")
    parser.add_argument("--test-images", type=positive_int, default=None,
                        help="use only the first N test images (default: all 10,000)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch threads (results are reproducible for a fixed count)")
    return parser.parse_args(argv)


def idx_path(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    fail(f"{stem}.gz is not in {directory}: install Debian package dataset-fashion-mnist "
         "(apt-get install dataset-fashion-mnist) or point $ANNBENCH_FASHION_MNIST_DIR at the "
         "IDX files")


def read_idx(path, magic, limit):
    """First `limit` records of an IDX file of unsigned bytes (images or labels)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as stream:
        data = stream.read()
    dims = (magic & 0xFF)
    header = 4 + 4 * dims
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        fail(f"{path} is not an IDX file with magic {magic:#010x}")
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    if len(data) != header + int(np.prod(shape)):
        fail(f"{path}: header says {shape} bytes but the file holds {len(data) - header}")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    if limit is not None:
        if limit > shape[0]:
            fail(f"{path} has {shape[0]} records; cannot take the first {limit}")
        array = array[:limit]
    return array


def load_split(directory, prefix, limit):
    images = read_idx(idx_path(directory, f"{prefix}-images-idx3-ubyte"), IDX_IMAGES_MAGIC, limit)
    labels = read_idx(idx_path(directory, f"{prefix}-labels-idx1-ubyte"), IDX_LABELS_MAGIC, limit)
    if len(images) != len(labels):
        fail(f"{directory}: {len(images)} {prefix} images but {len(labels)} labels")
    pixels = torch.from_numpy(images.astype(np.float32) / 255.0)
    pixels = ((pixels - PIXEL_MEAN) / PIXEL_STD).unsqueeze(1)  # N x 1 x 28 x 28
    return pixels, torch.from_numpy(labels.astype(np.int64))


class FeatureCnn(nn.Module):
    """Two 3x3 conv blocks, then a `dim`-wide embedding, then the classifier.

    The feature is the embedding before its ReLU: dense and signed, so no image gets an
    all-zero vector (undefined under the angular metric), and it still separates classes
    because the classifier only sees it through one ReLU.
    """

    def __init__(self, dim):
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.embedding = nn.Linear(32 * 7 * 7, dim)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(dim, CLASSES))

    def features(self, images):
        return self.embedding(self.convolutions(images))

    def forward(self, images):
        return self.classifier(self.features(images))


def train(model, images, labels, args, generator):
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_function = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(args.epochs):
        start = time.monotonic()
        order = torch.randperm(len(images), generator=generator)
        total_loss = 0.0
        for first in range(0, len(images), args.batch_size):
            batch = order[first:first + args.batch_size]
            optimizer.zero_grad()
            loss = loss_function(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(batch)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(images):.4f}, "
              f"{time.monotonic() - start:.1f} s", flush=True)


@torch.no_grad()
def embed(model, images, batch_size):
    """Features and predicted classes, in input order."""
    model.eval()
    features, predictions = [], []
    for first in range(0, len(images), batch_size):
        batch_features = model.features(images[first:first + batch_size])
        features.append(batch_features)
        predictions.append(model.classifier(batch_features).argmax(dim=1))
    return torch.cat(features).numpy(), torch.cat(predictions).numpy()


def write_features(path, train_features, test_features, train_labels, test_labels, attributes):
    # Written under a temporary name and renamed, so a killed run leaves no half file at `path`.
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with h5py.File(temporary, "w") as out:
            out.create_dataset("train", data=train_features.astype(np.float32))
            out.create_dataset("test", data=test_features.astype(np.float32))
            out.create_dataset("train_labels", data=train_labels.astype(np.int32))
            out.create_dataset("test_labels", data=test_labels.astype(np.int32))
            for name, value in attributes.items():
                # str() turns str subclasses (torch's TorchVersion) into plain UTF-8 strings.
                out.attrs[name] = str(value) if isinstance(value, str) else value
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def main(argv):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)
    started = time.monotonic()

    train_images, train_labels = load_split(args.data_dir, "train", args.train_images)
    test_images, test_labels = load_split(args.data_dir, "t10k", args.test_images)
    print(f"training a CNN ({args.dim}-d features) on {len(train_images)} Fashion-MNIST images: "
          f"{args.epochs} epochs, batch {args.batch_size}, Adam lr {args.lr}, seed {args.seed}, "
          f"{args.threads} threads, torch {torch.__version__}", flush=True)
    model = FeatureCnn(args.dim)
    generator = torch.Generator().manual_seed(args.seed)
    train(model, train_images, train_labels, args, generator)
    training_seconds = time.monotonic() - started

    evaluation_batch = 1024
    train_features, train_predictions = embed(model, train_images, evaluation_batch)
    test_features, test_predictions = embed(model, test_images, evaluation_batch)
    if not (np.isfinite(train_features).all() and np.isfinite(test_features).all()):
        fail("training diverged: the features hold NaN or Inf (try a smaller --lr)")
    train_accuracy = float((train_predictions == train_labels.numpy()).mean())
    test_accuracy = float((test_predictions == test_labels.numpy()).mean())
    print(f"test accuracy {test_accuracy:.4f} (train {train_accuracy:.4f}); "
          f"{time.monotonic() - started:.1f} s in all", flush=True)

    attributes = {
        "source": "Fashion-MNIST (Debian dataset-fashion-mnist), features of a CNN trained "
                  "by datasets/cnn_features.py",
        "model_architecture": "conv3x3(1->16)-relu-maxpool2, conv3x3(16->32)-relu-maxpool2, "
                              f"linear(1568->{args.dim}) [feature], relu, linear({args.dim}->10)",
        "feature_layer": f"penultimate: linear(1568->{args.dim}) output, before its ReLU",
        "feature_dim": args.dim,
        "input_normalisation": f"pixel/255, minus {PIXEL_MEAN}, divided by {PIXEL_STD}",
        "optimizer": "Adam",
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "seed": args.seed,
        "torch_threads": args.threads,
        "torch_version": torch.__version__,
        "train_images": len(train_images),
        "test_images": len(test_images),
        "test_accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        "training_seconds": training_seconds,
    }
    write_features(args.out, train_features, test_features, train_labels.numpy(),
                   test_labels.numpy(), attributes)
    print(f"wrote features to {args.out}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
