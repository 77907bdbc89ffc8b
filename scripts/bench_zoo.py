"""The keras.applications catalogue, imported as a user brings it: each model built with
Keras 3 (random initialization, a reduced input), trained a few epochs on digits resized to
its input, saved as ``.keras`` and given to ``km.import_model``; then exported to float32 and
int8 TFLite, each file checked against the Keras model. A model whose int8 file misses its
floor is exported as ``tflite-mixed`` too (its worst layers kept in float). Keras'
BatchNormalization default momentum (0.99) leaves the moving statistics unusable after the
few hundred steps a bench can afford, so every BatchNormalization trains with momentum 0.9.

Then real sizes: MobileNetV2 at 96x96 and 224x224 (3.5 M parameters), untrained, through
import, export (float32, int8) and the benchmark, each step timed, with the process's peak
memory. Writes bench-results/zoo.json.

    .venv/bin/python scripts/bench_zoo.py           # about 40 minutes on 2 cores
    .venv/bin/python scripts/bench_zoo.py --quick   # CI: MobileNetV3Small, 2 epochs, no real sizes
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

# the catalogue (Keras 3.15's keras.applications), each at the smallest input it takes
CATALOGUE = {
    "MobileNet": 32, "MobileNetV2": 32, "MobileNetV3Small": 32, "MobileNetV3Large": 32,
    "EfficientNetB0": 32, "EfficientNetV2B0": 32, "DenseNet121": 32, "NASNetMobile": 32,
    "ResNet50V2": 32, "ConvNeXtTiny": 32, "RegNetX002": 32, "Xception": 71, "InceptionV3": 75,
}
QUICK = ("MobileNetV3Small",)
REAL_SIZES = (96, 224)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def catalogue_model(name: str, size: int):
    """The application with random weights, ``size``x``size``x3 input, 10 classes; its
    BatchNormalization layers at momentum 0.9 (None: Keras has no such application)."""
    import keras

    build = getattr(keras.applications, name, None)
    if build is None:
        return None
    model = build(weights=None, input_shape=(size, size, 3), classes=10)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    return model


def digits_at(size: int, pixels: bool):
    """Digits resized to ``size`` x ``size`` x 3: in [0, 255] for a model that rescales its
    input itself (``pixels``: EfficientNet, ConvNeXt, MobileNetV3), in [0, 1] otherwise."""
    import kerasmodels as km

    data = km.load_dataset("digits", image_size=(size, size), channels=3)
    if not pixels:
        return data
    scaled = [(getattr(data, split)[0] * 255.0, getattr(data, split)[1])
              for split in ("train", "val", "test")]
    return km.Dataset(f"digits{size}", *scaled, task="classification", num_classes=10,
                      labels=data.labels, options={"arrays": True})  # kept in the run


def rescales_itself(model) -> bool:
    import keras

    return any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers[:4])


def one(name: str, size: int, epochs: int, out: Path) -> dict:
    import keras

    import kerasmodels as km
    from kerasmodels.errors import ExportError, KerasModelsError

    row = {"model": name, "input": f"{size}x{size}x3"}
    model = catalogue_model(name, size)
    if model is None:
        return {**row, "reason": f"keras {keras.__version__} has no keras.applications.{name}"}
    data = digits_at(size, rescales_itself(model))
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(*data.train, epochs=epochs, batch_size=32, verbose=0)
    row.update(params=int(model.count_params()), train_s=round(time.perf_counter() - started, 1))
    file = out / f"{name}.keras"
    model.save(file)
    started = time.perf_counter()
    try:
        run = km.import_model(file, data, out_dir=out / "runs", name=name)
    except KerasModelsError as exc:
        return {**row, "reason": str(exc)[:500]}
    row.update(import_s=round(time.perf_counter() - started, 2),
               max_abs_difference=run.manifest["source"]["max_abs_difference"],
               keras_test_accuracy=round(run.metrics["test"]["accuracy"], 4),
               collapsed=run.manifest["source"].get("collapsed"))
    for fmt in ("tflite-float32", "tflite-int8"):
        key = fmt.removeprefix("tflite-")
        started = time.perf_counter()
        try:
            (artifact,) = km.export(run, [fmt])
        except ExportError as exc:
            row[f"{key}_error"] = str(exc)[:500]
            row[f"{key}_agreement"] = getattr(exc, "parity", {}).get("top1_agreement")
            continue
        row[f"{key}_agreement"] = artifact.parity["top1_agreement"]
        row[f"{key}_kb"] = round(artifact.bytes / 1000, 1)
        row[f"{key}_export_s"] = round(time.perf_counter() - started, 1)
    if row.get("int8_error") and row.get("int8_agreement") is not None:  # below its floor
        try:
            (artifact,) = km.export(run, ["tflite-mixed"])
        except ExportError as exc:
            row["mixed_error"] = str(exc)[:500]
        else:
            row.update(mixed_agreement=artifact.parity["top1_agreement"],
                       mixed_kb=round(artifact.bytes / 1000, 1),
                       mixed_float_layers=len(artifact.device["float_layers"]))
    return row


def real_size(size: int, out: Path) -> dict:
    """MobileNetV2 at ``size``: import, export, benchmark, each timed (untrained: sizes and
    times, not accuracy)."""
    import numpy as np

    import kerasmodels as km

    model = catalogue_model("MobileNetV2", size)
    rs = np.random.RandomState(0)
    x = rs.uniform(0, 255, (120, size, size, 3)).astype("float32")
    data = km.Dataset.from_arrays(x, np.arange(len(x)) % 10, name=f"noise{size}")
    file = out / f"mobilenetv2_{size}.keras"
    model.save(file)
    row = {"model": "MobileNetV2", "input": f"{size}x{size}x3",
           "params": int(model.count_params())}
    started = time.perf_counter()
    run = km.import_model(file, data, out_dir=out / "real", name=f"mobilenetv2-{size}")
    row["import_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    artifacts = km.export(run, ["tflite-float32", "tflite-int8"], on_error="skip")
    row["export_s"] = round(time.perf_counter() - started, 1)
    row.update({f"{a.format.removeprefix('tflite-')}_kb": round(a.bytes / 1000, 1)
                for a in artifacts})
    started = time.perf_counter()
    rows = km.benchmark(run, calls=20, export_missing=False, progress=False)
    row["benchmark_s"] = round(time.perf_counter() - started, 1)
    row.update({f"{r['format'].removeprefix('tflite-')}_p50_ms": r["p50_ms"] for r in rows
                if r.get("p50_ms")})
    row["peak_rss_mb"] = round(peak_rss_mb())
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--model", action="append", help="only these (repeatable)")
    bench_options(parser, ROOT / "bench-results" / "zoo.json",
                  f"{', '.join(QUICK)} alone, 2 epochs, no real sizes")
    args = parser.parse_args(argv)
    names = list(QUICK) if args.quick else (args.model or list(CATALOGUE))
    unknown = sorted(set(names) - set(CATALOGUE))
    if unknown:
        parser.error(f"unknown model(s) {unknown}: choose among {list(CATALOGUE)}")
    epochs = 2 if args.quick else args.epochs
    rows, sizes = [], []
    with tempfile.TemporaryDirectory(prefix="zoo-") as tmp:
        for name in names:
            started = time.perf_counter()
            rows.append(one(name, CATALOGUE[name], epochs, Path(tmp)))
            print(format_table([rows[-1]]), f"({time.perf_counter() - started:.0f} s)",
                  flush=True)
        if not args.quick:
            for size in REAL_SIZES:
                sizes.append(real_size(size, Path(tmp)))
                print(format_table([sizes[-1]]), flush=True)
    write_results(args.out, quick=args.quick, epochs=epochs, rows=rows, real_sizes=sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
