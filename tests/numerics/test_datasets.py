"""Loaders of bnconvex.numerics.datasets on small files written in every format."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from bnconvex.numerics import datasets as ds
from bnconvex.numerics.errors import InputError
from PIL import Image

from tests.common.assertions import xp_assert_close

RNG_SEED = 20260125
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
CIFAR_TAR = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"
)


# --------------------------------------------------------------------------
# writers for the tiny test files
# --------------------------------------------------------------------------
def _write_cifar_batches(
    root: Path, labels_train=((0, 1, 2), (2, 1)), labels_test=(0, 2)
):
    """CIFAR-10 python batches of seeded random pixels; returns name -> data."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(RNG_SEED)
    batches = {}
    names = [f"data_batch_{i + 1}" for i in range(len(labels_train))] + ["test_batch"]
    for name, labels in zip(names, [*labels_train, labels_test], strict=True):
        data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
        with (root / name).open("wb") as fh:
            pickle.dump({b"data": data, b"labels": list(labels)}, fh, protocol=2)
        batches[name] = data
    meta = {b"label_names": [b"a", b"b", b"c"]}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return batches


def _tree_images(seed: int = RNG_SEED):
    """split -> class -> list of (name, uint8 4x5x3 image)."""
    rng = np.random.default_rng(seed)
    counts = {"train": {"dog": 3, "cat": 2}, "test": {"cat": 1, "dog": 2}}
    return {
        split: {
            cls: [
                (f"{i:04d}.png", rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
                for i in range(k)
            ]
            for cls, k in per.items()
        }
        for split, per in counts.items()
    }


def _write_tree(root: Path, images) -> None:
    for split, per in images.items():
        for cls, items in per.items():
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for name, img in items:
                Image.fromarray(img).save(root / split / cls / name)


def _write_idx(path: Path, array: np.ndarray, *, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(
        f">{array.ndim}i", *array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _write_idx_folder(root: Path, *, compress: bool, bad_label: int | None = None):
    rng = np.random.default_rng(RNG_SEED)
    root.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 3, 2), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.array([0, 9, 3, 3, 1, 0], dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (2, 3, 2), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([9, 1], dtype=np.uint8),
    }
    if bad_label is not None:
        arrays["t10k-labels-idx1-ubyte"][0] = bad_label
    for name, arr in arrays.items():
        _write_idx(root / name, arr, compress=compress)
    return arrays


# --------------------------------------------------------------------------
# CIFAR-10 pickle batches
# --------------------------------------------------------------------------
def test_cifar_batches_layout_and_labels(tmp_path):
    batches = _write_cifar_batches(tmp_path / "cifar-10-batches-py")
    raw = ds.read_cifar10_batches(tmp_path)  # the parent folder also works
    assert raw.train_images.shape == (5, 32, 32, 3)
    assert raw.test_images.shape == (2, 32, 32, 3)
    assert raw.classes == ("a", "b", "c")
    np.testing.assert_array_equal(raw.train_labels, [0, 1, 2, 2, 1])
    # the first 1024 values of a row are the red plane in row-major order
    row = batches["data_batch_2"][1]
    expected = row.reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(raw.train_images[4], expected)


def test_cifar_batch_label_outside_range(tmp_path):
    _write_cifar_batches(tmp_path / "c", labels_train=((0, 1, 3),))
    with pytest.raises(
        InputError, match=r"`source`: labels in data_batch_1 .*\[0, 3\)"
    ):
        ds.read_cifar10_batches(tmp_path / "c")


def test_cifar_pickle_with_foreign_global_is_refused(tmp_path):
    root = tmp_path / "c"
    _write_cifar_batches(root)
    (root / "test_batch").write_bytes(pickle.dumps({"data": Path("x"), "labels": [0]}))
    with pytest.raises(InputError, match=r"`source`: pickle refers to pathlib"):
        ds.read_cifar10_batches(root)


# --------------------------------------------------------------------------
# image-folder tree and tar.gz
# --------------------------------------------------------------------------
def _assert_tree_matches(raw, images) -> None:
    assert raw.classes == ("cat", "dog")  # sorted class folder names
    for split, got, labels in (
        ("train", raw.train_images, raw.train_labels),
        ("test", raw.test_images, raw.test_labels),
    ):
        want = [img for cls in ("cat", "dog") for _, img in images[split][cls]]
        want_labels = [
            c for c, cls in enumerate(("cat", "dog")) for _ in images[split][cls]
        ]
        np.testing.assert_array_equal(
            got, np.stack(want), err_msg=f"{split} pixels (PNG is lossless)"
        )
        np.testing.assert_array_equal(labels, want_labels, err_msg=f"{split} labels")


def test_image_folder_png_tree(tmp_path):
    images = _tree_images()
    _write_tree(tmp_path / "tree", images)
    _assert_tree_matches(ds.read_image_folder(tmp_path / "tree"), images)


def test_image_tar_gz_reads_members_directly(tmp_path):
    images = _tree_images()
    _write_tree(tmp_path / "tree" / "cifar10", images)
    archive = tmp_path / "tree.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "tree" / "cifar10", arcname="cifar10")
    raw = ds.load_raw(archive)
    _assert_tree_matches(raw, images)
    assert raw.source == str(archive)


def test_tree_test_class_missing_from_train(tmp_path):
    images = _tree_images()
    images["test"]["bird"] = images["test"]["cat"]
    _write_tree(tmp_path, images)
    with pytest.raises(
        InputError, match=r"split 'test' has classes not in the training split"
    ):
        ds.read_image_folder(tmp_path)


def test_tree_custom_split_names(tmp_path):
    images = _tree_images()
    _write_tree(tmp_path, {"fit": images["train"], "holdout": images["test"]})
    raw = ds.load_raw(tmp_path, splits=("fit", "holdout"))
    assert raw.train_images.shape == (5, 4, 5, 3)
    with pytest.raises(
        InputError, match=r"no <split>/<class>/\*\.png\|jpg images for split 'train'"
    ):
        ds.load_raw(tmp_path)


# --------------------------------------------------------------------------
# IDX (Fashion-MNIST)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_idx_folder(tmp_path, compress):
    arrays = _write_idx_folder(tmp_path / "f", compress=compress)
    raw = ds.load_raw(tmp_path / "f")
    np.testing.assert_array_equal(
        raw.train_images[..., 0], arrays["train-images-idx3-ubyte"]
    )
    np.testing.assert_array_equal(raw.test_labels, [9, 1])
    assert raw.classes == ds.FASHION_MNIST_CLASSES


def test_idx_label_outside_range(tmp_path):
    _write_idx_folder(tmp_path / "f", compress=True, bad_label=10)
    with pytest.raises(
        InputError, match=r"`source`: labels in test labels must lie in \[0, 10\)"
    ):
        ds.read_fashion_mnist(tmp_path / "f")


def test_idx_truncated_file(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">i", 5) + b"\x00\x01")
    with pytest.raises(InputError, match=r"has 10 bytes; header implies 13"):
        ds.read_idx(path)


@pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="Debian dataset-fashion-mnist not installed"
)
def test_fashion_mnist_debian_package():
    data = ds.load_classification(
        "fashion-mnist", classes=["Trouser", "Bag"], subset=50, seed=1
    )
    assert data.X_train.shape == (50, 784)
    # 1,000 test images per class in Fashion-MNIST
    assert data.X_test.shape == (2000, 784)
    assert data.classes == ("Trouser", "Bag")


@pytest.mark.slow
@pytest.mark.skipif(
    not CIFAR_TAR.is_file(), reason="development copy of CIFAR-10 absent"
)
def test_cifar10_development_archive():
    raw = ds.load_raw(CIFAR_TAR)
    assert raw.train_images.shape == (50000, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(raw.test_labels), np.full(10, 1000))
    assert raw.classes == ds.CIFAR10_CLASSES


# --------------------------------------------------------------------------
# selection, preprocessing, cache, bad input
# --------------------------------------------------------------------------
def _small_raw() -> ds.RawImages:
    rng = np.random.default_rng(RNG_SEED)
    return ds.RawImages(
        train_images=rng.integers(0, 256, (12, 2, 2, 3), dtype=np.uint8),
        train_labels=np.arange(12, dtype=np.int64) % 3,
        test_images=rng.integers(0, 256, (3, 2, 2, 3), dtype=np.uint8),
        test_labels=np.array([2, 0, 1], dtype=np.int64),
        classes=("x", "y", "z"),
        source="memory",
    )


def test_preprocess_uses_training_statistics():
    raw = _small_raw()
    data = ds.preprocess(raw)
    feats = data.X_train.reshape(12, 2, 2, 3)
    xp_assert_close(
        feats.mean(axis=(0, 1, 2)), np.zeros(3), atol=1e-14, err_msg="channel mean"
    )
    xp_assert_close(
        feats.std(axis=(0, 1, 2)), np.ones(3), rtol=1e-14, err_msg="channel std"
    )
    x = raw.train_images / 255.0
    mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
    want_test = ((raw.test_images / 255.0 - mean) / std).reshape(3, -1)
    xp_assert_close(data.X_test, want_test, rtol=1e-14, err_msg="test uses train stats")
    assert data.preprocessing["channel_std"] == pytest.approx(std.tolist(), rel=1e-14)


def test_preprocess_unstandardized_float32():
    data = ds.preprocess(_small_raw(), standardize=False, dtype="float32")
    assert data.X_train.dtype == np.float32
    assert float(data.X_train.min()) >= 0.0
    assert float(data.X_train.max()) <= 1.0
    Y = data.one_hot()
    np.testing.assert_array_equal(Y.argmax(axis=1), data.y_train)


def test_select_classes_and_subset():
    raw = _small_raw()
    sub = ds.select(raw, classes=["z", 0], subset=5, seed=3)
    assert sub.classes == ("z", "x")
    assert sub.train_labels.shape == (5,)
    assert set(sub.train_labels.tolist()) <= {0, 1}
    np.testing.assert_array_equal(sub.test_labels, [0, 1])  # z -> 0, x -> 1
    again = ds.select(raw, classes=["z", 0], subset=5, seed=3)
    np.testing.assert_array_equal(
        again.train_images, sub.train_images, err_msg="seeded subset"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": ["w", "x"]}, r"`classes` entry 'w' is not a class"),
        ({"classes": [0, 7]}, r"`classes` entry 7 is outside \[0, 3\)"),
        ({"classes": ["x"]}, r"`classes` must name at least two classes"),
        ({"subset": 99}, r"`subset` must be <= the 12 training images; got 99"),
        ({"subset": 0}, r"`subset` must be a positive integer; got 0"),
    ],
)
def test_select_bad_input(kwargs, message):
    raw = _small_raw()
    with pytest.raises(InputError, match=message):
        ds.select(raw, **kwargs)


def test_select_classes_without_test_images():
    raw = _small_raw()
    raw = ds.RawImages(
        raw.train_images,
        raw.train_labels,
        raw.test_images[:1],
        raw.test_labels[:1],
        raw.classes,
        raw.source,
    )  # test label 2
    with pytest.raises(
        InputError, match=r"`classes` \['x', 'y'\] leave no test images"
    ):
        ds.select(raw, classes=["x", "y"])


def test_cache_written_only_when_asked_and_reused(tmp_path):
    _write_idx_folder(tmp_path / "f", compress=False)
    first = ds.load_raw(tmp_path / "f")
    assert not list(tmp_path.glob("*.npz"))
    cache = tmp_path / "cache" / "fm.npz"
    ds.load_raw(tmp_path / "f", cache=cache)
    assert cache.is_file()
    assert not list(cache.parent.glob(".*tmp")), "atomic write left a temporary file"
    cached = ds.load_raw(tmp_path / "f", cache=cache)
    np.testing.assert_array_equal(cached.train_images, first.train_images)
    assert cached.classes == first.classes
    with pytest.raises(InputError, match=r"`cache` .* was built from .*; delete it"):
        ds.load_raw(tmp_path, cache=cache)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", r"`source` does not exist"),
        (
            lambda p: (p / "a.txt", (p / "a.txt").write_text("x"))[0],
            r"`source` has an unsupported format",
        ),
        (
            lambda p: (p / "b.tar.gz", (p / "b.tar.gz").write_bytes(b"junk"))[0],
            r"not a readable tar",
        ),
    ],
)
def test_bad_sources(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        ds.load_raw(make(tmp_path))


def test_unknown_dataset_name_is_a_missing_path():
    with pytest.raises(InputError, match=r"`source` does not exist: 'mnist-nope'"):
        ds.load_classification("mnist-nope")


def test_default_source_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("BNCONVEX_FASHION_MNIST", str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match=r"`BNCONVEX_FASHION_MNIST` does not exist"):
        ds.default_source("fashion-mnist")


def test_atomic_write_text(tmp_path):
    target = ds.atomic_write_text(tmp_path / "d" / "s.json", "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["s.json"]


def test_resolve_source(tmp_path, monkeypatch):
    monkeypatch.setenv("BNCONVEX_CIFAR10", str(tmp_path))
    assert ds.resolve_source("cifar10") == tmp_path
    assert ds.resolve_source(tmp_path / "x.tar.gz") == tmp_path / "x.tar.gz"
