"""What a person gives (image files, drawings, typed tokens, zips of folders) reaching the
model like a test example, and every variant of a family predicting it side by side."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

import kerasmodels as km
from kerasmodels.errors import DatasetError, InputShapeError, UploadError
from tests.conftest import run_cli


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype("uint8")).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_upscaled_test_digit_comes_back_as_itself(cnn_run):
    prep = cnn_run.manifest["dataset"]["preprocessing"]
    x, _ = cnn_run.dataset().test
    given, originals = [], []
    for example in x[:40]:
        # as a person would give it: 64x64, white ink on black, and dark ink on white paper
        big = np.kron(example[..., 0], np.ones((8, 8))) * 255
        for image in (big, 255 - big):
            back = km.image_input(png(image), prep, cnn_run.input_shape)
            assert back.shape == (8, 8, 1) and back.dtype == np.float32
            assert back.min() >= 0 and back.max() <= 1
            given.append(back)
            originals.append(example)
    same = int((cnn_run.predict(np.stack(given)).argmax(1) ==
                cnn_run.predict(np.stack(originals)).argmax(1)).sum())
    print(f"same prediction as the original example: {same} of 80")
    assert same >= 72  # the crop to the ink's box moves digits that do not fill their frame


def test_bad_images_are_clear_errors(cnn_run, transformer_run):
    prep = cnn_run.manifest["dataset"]["preprocessing"]
    with pytest.raises(UploadError, match="not an image this tool can read"):
        km.image_input(b"%PDF-1.4 not an image", prep, cnn_run.input_shape)
    with pytest.raises(UploadError, match="images up to 10 MB"):
        km.image_input(b"\x89PNG" + bytes(11 * 2**20), prep, cnn_run.input_shape)
    token_prep = transformer_run.manifest["dataset"]["preprocessing"]
    with pytest.raises(InputShapeError, match="not an image"):
        km.image_input(png(np.zeros((8, 8))), token_prep, transformer_run.input_shape)


def test_typed_tokens_and_numbers(transformer_run):
    prep = transformer_run.manifest["dataset"]["preprocessing"]
    shape = transformer_run.input_shape
    tokens = km.token_input("A w5, B 7", prep, shape)
    assert tokens.shape == shape and tokens.dtype == np.int32
    assert tokens[:4].tolist() == [1, 5, 2, 7] and (tokens[4:] == 0).all()  # padded
    with pytest.raises(InputShapeError, match="unknown token 'hello'"):
        km.token_input("A hello", prep, shape)
    with pytest.raises(InputShapeError, match=r"token ids must be in \[0, 64\)"):
        km.token_input("A 99", prep, shape)
    numbers = km.token_input("1 2 3 4", {"kind": "sequence"}, (2, 2))
    assert numbers.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(InputShapeError, match="takes 4 numbers"):
        km.token_input("1 2 3", {"kind": "sequence"}, (2, 2))


def test_every_variant_predicts_one_example(cnn_run, cnn_exports):
    variants = km.load_variants(cnn_run)
    formats = {v.format for v in variants}
    assert {"keras", "tflite-float32", "tflite-int8", "onnx"} <= formats
    assert "saved_model" not in formats  # the same graph as Keras: not a device format
    x, y = cnn_run.dataset().test
    rows = km.predict_variants(variants, x[3])
    keras_label = next(r["label"] for r in rows if r["format"] == "keras")
    for row in rows:
        assert row["ms"] > 0 and len(row["probabilities"]) == 10
        assert abs(sum(row["probabilities"]) - 1) < 0.02
        if row["format"] in ("tflite-float32", "onnx"):
            assert row["label"] == keras_label
    with pytest.raises(InputShapeError, match=r"takes a batch of \(8, 8, 1\)"):
        km.predict_variants(variants, np.zeros((28, 28)))


def image_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)


def test_a_zip_of_class_folders_is_a_dataset(tmp_path):
    rs = np.random.RandomState(0)
    members = {f"shapes/{label}/{i}.png": png(rs.randint(0, 255, (12, 12)) * (label == "light")
                                              + (label == "light") * 128 % 255)
               for label in ("dark", "light") for i in range(12)}
    image_zip(tmp_path / "shapes.zip", members)
    data = km.load_dataset(f"images:{tmp_path / 'shapes.zip'}", image_size=(8, 8),
                           color="grayscale")
    assert data.labels == ["dark", "light"] and data.input_shape == (8, 8, 1)
    assert sum(len(split[0]) for split in (data.train, data.val, data.test)) == 24
    image_zip(tmp_path / "evil.zip", {"../../escape/a.png": png(np.zeros((4, 4)))})
    with pytest.raises(DatasetError, match="unsafe path"):
        km.load_dataset(f"images:{tmp_path / 'evil.zip'}")
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(DatasetError, match="is not a zip file"):
        km.load_dataset(f"images:{tmp_path / 'fake.zip'}")


def test_dashboard_command_checks_its_port():
    result = run_cli("dashboard", "--port", "70000")
    assert result.returncode == 2 and "--port must be in 1..65535" in result.stderr


def test_upload_limits_hold_before_any_decoding(tmp_path):
    """A 7000x7000 PNG is a few hundred kB; it is refused from its header, in well under the
    seconds and hundreds of MB decoding it would cost. A zip with too many entries is refused
    from its directory; nothing unpacked is left behind."""
    import io
    import time

    from PIL import Image

    from kerasmodels.data.files import MAX_ZIP_ENTRIES
    from kerasmodels.inputs import read_image

    buffer = io.BytesIO()
    Image.new("L", (7000, 7000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 1_000_000
    started = time.perf_counter()
    with pytest.raises(UploadError, match="7000x7000 pixels"):
        read_image(buffer.getvalue())
    assert time.perf_counter() - started < 1.0
    members = {f"c{i % 2}/{i}.png": b"" for i in range(MAX_ZIP_ENTRIES + 1)}
    image_zip(tmp_path / "many.zip", members)
    with pytest.raises(DatasetError, match="entries"):
        km.load_dataset(f"images:{tmp_path / 'many.zip'}")
    members = {f"shapes/{c}/{i}.png": png(np.full((6, 6), 40 * i)) for c in "ab" for i in range(6)}
    members["shapes/a/huge.png"] = buffer.getvalue()
    image_zip(tmp_path / "bomb.zip", members)
    with pytest.raises(DatasetError, match="huge.png.*7000x7000"):
        km.load_dataset(f"images:{tmp_path / 'bomb.zip'}")
    del members["shapes/a/huge.png"]
    image_zip(tmp_path / "ok.zip", members)
    km.load_dataset(f"images:{tmp_path / 'ok.zip'}", image_size=(6, 6))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.zip", "many.zip", "ok.zip"]
