"""A Keras 3 model of one's own through kerasmodels: import, rebuild parity, the sweep's pick.

A MobileNet-style Keras 3 model (Conv2D, BatchNormalization, ReLU6, depthwise-separable
residual blocks, GlobalAveragePooling2D, Dropout, Dense), written here with ``import keras``,
is trained on digits resized to 32x32x3 (bilinear, the gray channel repeated) with Keras 3's
own ``fit``. Then ``km.import_model`` rebuilds it as a tf_keras run (timed; the largest
difference between the Keras 3 model and the rebuild on the val and test inputs is recorded)
and ``km.sweep`` compresses, exports and times it, picking on validation accuracy. Writes
bench-results/import.json.

    .venv/bin/python scripts/bench_import.py           # ~5 minutes on 2 cores
    .venv/bin/python scripts/bench_import.py --quick   # CI: checks the script works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402


def digits_32x32x3():
    """scikit-learn's digits, resized to 32x32 and repeated on three channels."""
    import kerasmodels as km
    from kerasmodels.backend import tf

    digits = km.load_dataset("digits")
    x = np.concatenate([digits.train[0], digits.val[0], digits.test[0]])
    y = np.concatenate([digits.train[1], digits.val[1], digits.test[1]])
    big = tf.image.resize(x, (32, 32), method="bilinear").numpy()
    return km.Dataset.from_arrays(np.repeat(big, 3, axis=-1), y, name="digits32",
                                  labels=digits.labels)


def mobilenet(keras, filters=(16, 32), classes=10):
    """A MobileNet-style Keras 3 model: a stem, then per width a depthwise-separable block
    with a residual connection, pooled into a softmax head."""
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(filters[0], 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU(6.0)(x)
    for width in filters:
        if x.shape[-1] != width:  # widen with a pointwise convolution
            x = layers.Conv2D(width, 1, use_bias=False)(x)
            x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.ReLU(6.0)(x)
        y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        y = layers.BatchNormalization(momentum=0.9)(y)
        y = layers.ReLU(6.0)(y)
        y = layers.Conv2D(width, 1, use_bias=False)(y)
        y = layers.BatchNormalization(momentum=0.9)(y)
        x = layers.Add()([x, y])
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x), name="mobilenet3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--accuracy-budget", type=float, default=0.01)
    bench_options(parser, ROOT / "bench-results" / "import.json",
                  "1 epoch, a sweep of one pruning in two formats")
    args = parser.parse_args(argv)
    epochs = 1 if args.quick else args.epochs

    import importlib

    import kerasmodels as km
    from kerasmodels.backend import tf  # noqa: F401  (TensorFlow set up by kerasmodels first)
    from kerasmodels.compression.recipes import default_sweep

    keras = importlib.import_module("keras")  # then Keras 3

    data = digits_32x32x3()
    keras.utils.set_random_seed(0)
    model = mobilenet(keras)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(*data.train, validation_data=data.val, epochs=epochs, batch_size=32, verbose=0)
    train_s = time.perf_counter() - started
    recipes = ({"recipe": "prune", "target_sparsity": 0.5, "epochs": 1},) if args.quick \
        else default_sweep()
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "mobilenet3.keras")
        started = time.perf_counter()
        run = km.import_model(Path(tmp) / "mobilenet3.keras", data, out_dir=tmp)
        import_s = time.perf_counter() - started
        source = run.manifest["source"]
        print(f"Keras {source['version']} model ({run.manifest['arch']['params']:,} parameters, "
              f"{epochs} epochs in {train_s:.1f} s) imported in {import_s:.2f} s; max abs "
              f"difference Keras 3 vs the tf_keras rebuild: {source['max_abs_difference']:.3g}")
        quick = {"formats": ("tflite-float32", "tflite-int8"), "calls": 20} if args.quick \
            else {}
        result = km.sweep(run, accuracy_budget=args.accuracy_budget, recipes=recipes,
                          progress=not args.quick, **quick)
    columns = ("recipe", "options", "format", "gzip_bytes", "val_accuracy", "test_accuracy",
               "p50_ms", "x_smaller", "pareto")
    rows = [{column: row[column] for column in columns} for row in result["rows"]]
    pick = result["pick"] and {column: result["pick"][column] for column in columns}
    print(format_table(rows))
    print(f"pick (smallest whose interval's lower end is within {args.accuracy_budget:.1%} of "
          "the imported model's validation "
          f"accuracy {result['parent_val_accuracy']:.4f}): {pick}")
    write_results(args.out, quick=args.quick, dataset="digits resized to 32x32x3",
                  keras_version=source["version"], params=run.manifest["arch"]["params"],
                  epochs=epochs, train_s=round(train_s, 2), import_s=round(import_s, 3),
                  max_abs_difference=source["max_abs_difference"],
                  imported_accuracy={split: run.metrics[split]["accuracy"]
                                     for split in ("val", "test")},
                  accuracy_budget=args.accuracy_budget, sweep_s=result["seconds"],
                  rows=rows, pick=pick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
