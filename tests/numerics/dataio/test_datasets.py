"""Loaders of bnconvex.numerics.dataio.datasets on small files of every format."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from bnconvex.numerics.dataio import datasets as ds
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
def _write_batch(path: Path, data, labels) -> None:
    """One CIFAR-10 python batch: a pickled dict with bytes keys, as released."""
    with path.open("wb") as fh:
        pickle.dump({b"data": data, b"labels": list(labels)}, fh, protocol=2)


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
        _write_batch(root / name, data, labels)
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


_IDX_TYPES = {0x08: np.uint8, 0x0C: ">i4", 0x0D: ">f4"}  # type byte -> dtype


def _write_idx(
    path: Path, array: np.ndarray, *, compress: bool, code: int = 0x08
) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(
        f">{array.ndim}i", *array.shape
    )
    payload = header + array.astype(_IDX_TYPES[code]).tobytes()
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


def test_cache_of_the_parent_folder_is_reused(tmp_path):
    """The source recorded is the path given, so its cache matches next time."""
    _write_cifar_batches(tmp_path / "src" / "cifar-10-batches-py")
    cache = tmp_path / "c.npz"
    first = ds.load_raw(tmp_path / "src", cache=cache)
    assert first.source == str(tmp_path / "src")
    again = ds.load_raw(tmp_path / "src", cache=cache)  # refused before the fix
    np.testing.assert_array_equal(again.train_images, first.train_images)


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


@pytest.mark.parametrize(
    ("dtype", "labels", "message"),
    [
        # 256 and -1 would wrap to 0 and 255 under a cast to uint8
        ("float64", (0, 1, 2), r"data_batch_1 data must be a 2-D uint8 array"),
        ("int32", (0, 1, 2), r"data_batch_1 data must be a 2-D uint8 array"),
        ("uint8", (0, 1.7, 2), r"labels in data_batch_1 must be a 1-D array of int"),
    ],
    ids=["float64-pixels", "int32-pixels", "float-labels"],
)
def test_cifar_batch_pixels_and_labels_are_not_cast(tmp_path, dtype, labels, message):
    root = tmp_path / "c"
    _write_cifar_batches(root, labels_train=((0, 1, 2),))
    data = np.full((3, 3072), 256 if dtype != "uint8" else 7).astype(dtype)
    data[0, 0] = -1 if dtype != "uint8" else 0
    _write_batch(root / "data_batch_1", data, labels)
    with pytest.raises(InputError, match=rf"`source`: {message}"):
        ds.read_cifar10_batches(root)


def _write_cifar_tarball(tmp_path: Path, **batches) -> Path:
    """``cifar-10-python.tar.gz`` in the official member order (data_batch_1 last)."""
    folder = tmp_path / "src" / "cifar-10-batches-py"
    _write_cifar_batches(folder, **batches)
    (folder / "readme.html").write_text("<html></html>")
    # a pickle that is not a batch must never be unpickled
    (folder / "notes.pkl").write_bytes(pickle.dumps(Path("x")))
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name, recursive=False)
        for name in (
            "data_batch_2",
            "readme.html",
            "test_batch",
            "batches.meta",
            "notes.pkl",
            "data_batch_1",
        ):
            tar.add(folder / name, arcname=f"{folder.name}/{name}")
    return archive


def test_cifar_python_tarball_is_read_from_the_stream(tmp_path):
    archive = _write_cifar_tarball(tmp_path)
    raw = ds.load_raw(archive)
    want = ds.read_cifar10_batches(tmp_path / "src")
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(
            getattr(raw, field), getattr(want, field), err_msg=field
        )
    assert raw.classes == ("a", "b", "c")
    assert raw.source == str(archive)
    assert not (tmp_path / "cifar-10-batches-py").exists(), "nothing is extracted"


def test_cifar_python_tarball_validates_like_the_folder(tmp_path):
    archive = _write_cifar_tarball(tmp_path, labels_train=((0, 1, 3), (2, 1)))
    with pytest.raises(
        InputError, match=r"`source`: labels in data_batch_1 .*\[0, 3\)"
    ):
        ds.load_raw(archive)
    folder = tmp_path / "src" / "cifar-10-batches-py"
    (folder / "test_batch").write_bytes(pickle.dumps({"data": Path("x")}))
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    with pytest.raises(InputError, match=r"`source`: pickle refers to pathlib"):
        ds.load_raw(evil)


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


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            bytes([0, 0, 8, 3]) + struct.pack(">i", 5),
            r"has 8 bytes; its header declares 3 dimensions and needs 16",
        ),
        (
            bytes([0, 0, 8, 2]) + struct.pack(">2i", -1, -2) + b"\x00\x01",
            r"header declares negative dimensions \(-1, -2\)",
        ),
    ],
    ids=["header-past-end", "negative-dims"],
)
def test_idx_bad_header(tmp_path, payload, message):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(InputError, match=rf"`source`: 'x-idx3-ubyte' {message}"):
        ds.read_idx(path)


@pytest.mark.parametrize(
    ("name", "array", "code", "message"),
    [
        (
            "train-images-idx3-ubyte",
            np.full((6, 3, 2), 300),  # would wrap to 44 under a cast to uint8
            0x0C,
            r"train IDX images must be a 3-D uint8 array of pixels; got 3-D >i4",
        ),
        (
            "t10k-labels-idx1-ubyte",
            np.array([9.0, 1.7]),  # would become label 1
            0x0D,
            r"labels in test labels must be a 1-D array of integers; got 1-D >f4",
        ),
    ],
    ids=["int32-images", "float-labels"],
)
def test_idx_types_are_not_cast(tmp_path, name, array, code, message):
    _write_idx_folder(tmp_path / "f", compress=False)
    _write_idx(tmp_path / "f" / name, array, compress=False, code=code)
    with pytest.raises(InputError, match=rf"`source`: {message}"):
        ds.read_fashion_mnist(tmp_path / "f")


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


def _cache_arrays(**changes) -> dict[str, np.ndarray]:
    """Arrays of a valid cache of :func:`_small_raw`, with some replaced."""
    raw = _small_raw()
    arrays = {
        "train_images": raw.train_images,
        "train_labels": raw.train_labels,
        "test_images": raw.test_images,
        "test_labels": raw.test_labels,
        "classes": np.array(raw.classes),
        "source": np.array(raw.source),
    }
    return {**arrays, **changes}


_BAD_CACHES = [
    (
        {"train_labels": np.arange(2) % 3},
        r"train_images has 12 images but 2 labels",
    ),
    (
        {"train_images": np.zeros((12, 2, 2), dtype=np.uint8)},
        r"train_images must be a 4-D uint8 array of pixels; got 3-D uint8",
    ),
    (
        {"test_images": np.full((3, 2, 2, 3), 300.0)},
        r"test_images must be a 4-D uint8 array of pixels; got 4-D float64",
    ),
    (
        {"test_labels": np.array([2.0, 0.5, 1.0])},
        r"labels in .* test_labels must be a 1-D array of integers; got 1-D float64",
    ),
    (
        {"test_images": np.zeros((3, 4, 4, 3), dtype=np.uint8)},
        r"train images \(2, 2, 3\) and test images \(4, 4, 3\) differ in shape",
    ),
]


@pytest.mark.parametrize(
    ("changes", "message"),
    _BAD_CACHES,
    ids=["count", "ndim", "float-pixels", "float-labels", "shapes"],
)
def test_malformed_npz_source_is_refused(tmp_path, changes, message):
    np.savez(tmp_path / "bad.npz", **_cache_arrays(**changes))
    with pytest.raises(InputError, match=rf"^`source`: .*{message}"):
        ds.load_raw(tmp_path / "bad.npz")


def test_malformed_cache_names_the_cache(tmp_path):
    _write_idx_folder(tmp_path / "f", compress=False)
    cache = tmp_path / "c.npz"
    np.savez(cache, **_cache_arrays(train_labels=np.arange(2) % 3))
    with pytest.raises(InputError, match=r"^`cache`: .* has 12 images but 2 labels"):
        ds.load_raw(tmp_path / "f", cache=cache)


def test_valid_npz_cache_round_trip(tmp_path):
    raw = _small_raw()
    ds.save_raw_cache(raw, tmp_path / "ok.npz")
    back = ds.load_raw(tmp_path / "ok.npz")
    np.testing.assert_array_equal(back.train_images, raw.train_images)
    np.testing.assert_array_equal(back.test_labels, raw.test_labels)
    assert back.classes == raw.classes


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


def test_resolve_source(tmp_path, monkeypatch):
    monkeypatch.setenv("BNCONVEX_CIFAR10", str(tmp_path))
    assert ds.resolve_source("cifar10") == tmp_path
    assert ds.resolve_source(tmp_path / "x.tar.gz") == tmp_path / "x.tar.gz"


@pytest.mark.parametrize(
    ("mode", "fast"),
    [
        ("w:gz", True),  # plain ustar, gzip: the in-memory fast path
        ("w", True),  # uncompressed
        ("w:bz2", False),  # not gzip: streamed with tarfile
    ],
)
def test_image_tar_fast_path_equals_tarfile(tmp_path, mode, fast):
    images = _tree_images()
    _write_tree(tmp_path / "tree" / "cifar10", images)
    archive = tmp_path / f"tree.{mode.replace(':', '.')}"
    with tarfile.open(archive, mode, format=tarfile.USTAR_FORMAT) as tar:
        tar.add(tmp_path / "tree" / "cifar10", arcname="cifar10")
    members = ds._ustar_members(archive)
    assert (members is not None) == fast
    _assert_tree_matches(ds.read_image_tar(archive), images)


def test_image_tar_with_git_comment_header_and_long_names(tmp_path):
    images = _tree_images()
    _write_tree(tmp_path / "tree" / "cifar10", images)
    # a PAX global header with only a comment (git archive writes one) keeps
    # the fast path; a long member name (PAX path record) falls back to tarfile
    comment = tmp_path / "comment.tar.gz"
    with tarfile.open(
        comment, "w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": "abc"}
    ) as tar:
        tar.add(tmp_path / "tree" / "cifar10", arcname="cifar10")
    assert ds._ustar_members(comment) is not None
    _assert_tree_matches(ds.read_image_tar(comment), images)
    deep = tmp_path / "deep.tar.gz"
    with tarfile.open(deep, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.add(tmp_path / "tree" / "cifar10", arcname="x" * 120 + "/cifar10")
    assert ds._ustar_members(deep) is None
    _assert_tree_matches(ds.read_image_tar(deep), images)


def test_damaged_header_checksum_falls_back(tmp_path):
    images = _tree_images()
    _write_tree(tmp_path / "tree" / "cifar10", images)
    archive = tmp_path / "t.tar"
    with tarfile.open(archive, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(tmp_path / "tree" / "cifar10", arcname="cifar10")
    data = bytearray(archive.read_bytes())
    data[10] ^= 1  # a name byte of the first header: its checksum no longer matches
    archive.write_bytes(bytes(data))
    assert ds._ustar_members(archive) is None


def test_preprocess_table_matches_float64_arithmetic():
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (20, 3, 4, 3), dtype=np.uint8)
    raw = ds.RawImages(
        images, np.arange(20) % 2, images[:5], np.arange(5) % 2, ("a", "b"), "toy"
    )
    got = ds.preprocess(raw, dtype="float64").X_train
    x = images.astype(np.float64) / 255.0
    mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
    want = ((x - mean) / std).reshape(20, -1)
    # statistics from exact integer histograms vs NumPy's pairwise float sums:
    # both within a few ulps of the true values; entries are O(1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


def test_the_default_cifar10_location_is_shared_beside_the_project(monkeypatch):
    # the development copy lives in ../shared/data beside the repository root;
    # the module moved one folder down (numerics/dataio/) once and looked in
    # <repo>/shared instead
    repo = Path(__file__).resolve().parents[3]
    monkeypatch.delenv("BNCONVEX_CIFAR10", raising=False)
    expected = repo.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
    if expected.exists():
        assert ds.default_source("cifar10") == expected
    else:
        with pytest.raises(InputError, match=str(expected)):
            ds.default_source("cifar10")
