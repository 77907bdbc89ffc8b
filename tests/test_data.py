import gzip
import pickle
import time

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.errors import DatasetError, UnknownNameError

BUILTIN = {
    "digits": ((8, 8, 1), "classification", 10),
    "regression": ((1,), "regression", None),
    "sequences": ((20, 2), "classification", 2),
    "text": ((32,), "classification", 4),
    "diabetes": ((10,), "regression", None),
}


@pytest.mark.parametrize("name", list(BUILTIN))
def test_builtin_datasets_have_fixed_seeded_splits(name):
    shape, task, classes = BUILTIN[name]
    a, b = km.load_dataset(name), km.load_dataset(name)
    assert a.input_shape == shape and a.task == task and a.num_classes == classes
    for split in ("train", "val", "test"):
        xa, ya = getattr(a, split)
        xb, yb = getattr(b, split)
        assert len(xa) == len(ya) > 0
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other = km.load_dataset(name, seed=1)
    assert not np.array_equal(a.train[0], other.train[0])
    manifest = a.to_manifest()
    assert manifest["input_shape"] == list(shape) and manifest["preprocessing"]["kind"]


def test_digits_are_scaled_real_digits():
    ds = km.load_dataset("digits")
    x, y = ds.train
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    assert sum(len(getattr(ds, s)[0]) for s in ("train", "val", "test")) == 1797
    assert ds.labels == [str(i) for i in range(10)]


def test_regression_is_the_chapters_data():
    np.random.seed(0)
    x = np.random.randn(100, 1)
    y = 3 * x + 2 + np.random.randn(100, 1) * 0.5
    ds = km.load_dataset("regression")
    xs = np.concatenate([ds.train[0], ds.val[0], ds.test[0]])
    ys = np.concatenate([ds.train[1], ds.val[1], ds.test[1]])
    order = np.argsort(xs[:, 0])
    np.testing.assert_allclose(xs[order], np.sort(x, axis=0).astype("float32"))
    np.testing.assert_allclose(ys[order, 0], y[np.argsort(x[:, 0]), 0].astype("float32"))


def test_text_labels_depend_on_order_of_far_apart_signals():
    ds = km.load_dataset("text")
    x, y = ds.train
    half = x.shape[1] // 2
    for tokens, label in zip(x[:200], y[:200], strict=True):
        first = tokens[:half][np.isin(tokens[:half], [1, 2])]
        second = tokens[half:][np.isin(tokens[half:], [1, 2])]
        assert len(first) == len(second) == 1
        assert label == (first[0] - 1) * 2 + (second[0] - 1)
    assert ds.vocab_size == 64 and ds.preprocessing["vocab"][1:3] == ["A", "B"]


def test_sequences_label_is_the_sign_of_the_marked_value():
    x, y = km.load_dataset("sequences").train
    marked = x[..., 0][x[..., 1] == 1]
    np.testing.assert_array_equal((marked > 0).astype(int), y)


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(UnknownNameError, match="did you mean 'digits'"):
        km.load_dataset("digitz")


def test_unknown_option_is_a_clear_error():
    with pytest.raises(DatasetError, match="does not take that option"):
        km.load_dataset("digits", colour="red")


def test_online_dataset_without_network_fails_fast_and_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # an empty keras cache
    start = time.perf_counter()
    with pytest.raises(DatasetError, match="could not download mnist.*digits"):
        km.load_dataset("mnist")
    assert time.perf_counter() - start < 60


def test_mnist_from_a_local_copy(tmp_path):
    rs = np.random.RandomState(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rs.randint(0, 256, (60, 28, 28), dtype=np.uint8), y_train=np.arange(60) % 10,
             x_test=rs.randint(0, 256, (20, 28, 28), dtype=np.uint8), y_test=np.arange(20) % 10)
    ds = km.load_dataset("mnist", path=str(path))
    assert ds.input_shape == (28, 28, 1) and ds.num_classes == 10
    assert len(ds.train[0]) + len(ds.val[0]) == 60 and len(ds.test[0]) == 20
    assert ds.train[0].max() <= 1.0
    # the transfer pair's second half, from the same local file
    upper = km.load_dataset("mnist", path=str(path), classes=[5, 6, 7, 8, 9])
    assert upper.labels == ["5", "6", "7", "8", "9"] and upper.num_classes == 5
    assert len(upper.test[0]) == 10 and set(upper.test[1]) == {0, 1, 2, 3, 4}
    assert upper.options["classes"] == [5, 6, 7, 8, 9]


def test_classes_select_and_relabel_any_classification_dataset():
    full = km.load_dataset("digits")
    lower = km.load_dataset("digits", classes=[4, 0, 2])
    assert lower.labels == ["4", "0", "2"] and lower.num_classes == 3
    for part in ("train", "val", "test"):
        x, y = getattr(lower, part)
        fx, fy = getattr(full, part)
        np.testing.assert_array_equal(x, fx[np.isin(fy, [4, 0, 2])])
        np.testing.assert_array_equal(np.array(["4", "0", "2"])[y], fy[np.isin(fy, [4, 0, 2])].astype(str))
    by_name = km.load_dataset("digits", classes=["4", "0", "2"])
    np.testing.assert_array_equal(by_name.train[1], lower.train[1])
    with pytest.raises(DatasetError, match="has no class 12"):
        km.load_dataset("digits", classes=[1, 12])
    with pytest.raises(DatasetError, match="at least two distinct"):
        km.load_dataset("digits", classes=[3, 3])
    with pytest.raises(DatasetError, match="regression is regression"):
        km.load_dataset("regression", classes=[0, 1])


def test_fashion_mnist_from_local_gz_files(tmp_path):
    rs = np.random.RandomState(0)

    def write(name, header, data):
        with gzip.open(tmp_path / name, "wb") as f:
            f.write(bytes(header) + data.tobytes())

    for prefix, n in (("train", 30), ("t10k", 10)):
        write(f"{prefix}-labels-idx1-ubyte.gz", [0] * 8, (np.arange(n) % 10).astype(np.uint8))
        write(f"{prefix}-images-idx3-ubyte.gz", [0] * 16, rs.randint(0, 256, (n, 28, 28), dtype=np.uint8))
    ds = km.load_dataset("fashion_mnist", path=str(tmp_path))
    assert ds.labels[0] == "t-shirt" and len(ds.test[0]) == 10 and ds.input_shape == (28, 28, 1)


def test_cifar10_from_local_batches(tmp_path):
    rs = np.random.RandomState(0)
    for name, n in (*((f"data_batch_{i}", 10) for i in range(1, 6)), ("test_batch", 10)):
        batch = {b"data": rs.randint(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(np.arange(n) % 10)}
        with open(tmp_path / name, "wb") as f:
            pickle.dump(batch, f)
    ds = km.load_dataset("cifar10", path=str(tmp_path))
    assert ds.input_shape == (32, 32, 3) and ds.labels[0] == "airplane"
    assert sum(len(split[0]) for split in (ds.train, ds.val)) == 50  # all five batches
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match="lacks data_batch_4"):
        km.load_dataset("cifar10", path=str(tmp_path))


def test_imdb_from_a_local_copy(tmp_path):
    seqs = np.array([list(range(1, 5 + i)) for i in range(30)], dtype=object)
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=seqs[:20], y_train=np.arange(20) % 2, x_test=seqs[20:], y_test=np.arange(10) % 2)
    ds = km.load_dataset("imdb", path=str(path), maxlen=16, num_words=10)
    assert ds.input_shape == (16,) and ds.vocab_size == 10 and ds.train[0].max() < 10


def test_corrupt_local_copy_is_a_clear_error(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(DatasetError, match="cannot read the local copy"):
        km.load_dataset("mnist", path=str(bad))


@pytest.fixture
def iris_csv(tmp_path):
    from sklearn.datasets import load_iris

    raw = load_iris(as_frame=True)
    frame = raw.frame.rename(columns={"target": "species"})
    frame["species"] = frame["species"].map(dict(enumerate(raw.target_names)))
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def test_csv_with_string_labels(iris_csv):
    ds = km.load_dataset(f"csv:{iris_csv}", target="species")
    assert ds.task == "classification" and ds.labels == ["setosa", "versicolor", "virginica"]
    assert ds.input_shape == (4,) and ds.name.startswith("csv:")
    assert abs(ds.train[0].mean()) < 1e-5  # standardized on the training split
    assert len(ds.preprocessing["mean"]) == 4


def test_csv_regression_target(iris_csv):
    import pandas as pd

    numeric = iris_csv.with_name("numeric.csv")
    pd.read_csv(iris_csv).drop(columns="species").to_csv(numeric, index=False)
    ds = km.load_dataset(f"csv:{numeric}", target="petal width (cm)")
    assert ds.task == "regression" and ds.train[1].shape[1] == 1 and ds.input_shape == (3,)


def test_csv_with_a_text_feature_is_a_clear_error(iris_csv):
    with pytest.raises(DatasetError, match=r"\['species'\] are not numeric"):
        km.load_dataset(f"csv:{iris_csv}", target="petal width (cm)")


def test_csv_missing_target_column_names_the_columns(iris_csv):
    with pytest.raises(DatasetError, match="no column 'label'.*species"):
        km.load_dataset(f"csv:{iris_csv}", target="label")
    with pytest.raises(DatasetError, match="target=<column>"):
        km.load_dataset(f"csv:{iris_csv}")


def test_csv_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        km.load_dataset(f"csv:{tmp_path / 'nope.csv'}", target="y")


def _write_images(root, classes=("cat", "dog"), n=6):
    from PIL import Image

    rs = np.random.RandomState(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = (rs.rand(12, 10, 3) * 80 + c * 150).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_image_folder(tmp_path):
    _write_images(tmp_path)
    ds = km.load_dataset(f"images:{tmp_path}", image_size=(8, 8))
    assert ds.input_shape == (8, 8, 3) and ds.labels == ["cat", "dog"]
    gray = km.load_dataset(f"images:{tmp_path}", image_size=(6, 6), color="grayscale")
    assert gray.input_shape == (6, 6, 1)
    x = np.concatenate([gray.train[0], gray.val[0], gray.test[0]])
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_empty_image_folder(tmp_path):
    (tmp_path / "cat").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        km.load_dataset(f"images:{tmp_path}")


def test_image_folder_with_a_non_image(tmp_path):
    _write_images(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"this is text, not a png")
    with pytest.raises(DatasetError, match="broken.png is not a readable image"):
        km.load_dataset(f"images:{tmp_path}")


def test_image_folder_with_one_class(tmp_path):
    _write_images(tmp_path, classes=("cat",))
    with pytest.raises(DatasetError, match="single class"):
        km.load_dataset(f"images:{tmp_path}")
