"""Why channel pruning speeds float32 up and int8 hardly: XNNPACK's int8 kernels by channel count.

A channel-pruned CNN at keep 0.5 runs float32 about 2.4x faster than its parent in LiteRT, int8
about 1.1x. This times the thing underneath: one 3x3 convolution over a 32x32 map with C input
and C output channels (C = 8 ... 128), as float32 and as full int8 (converted by kerasmodels'
own converter), each with LiteRT's default delegate (XNNPACK) and with the builtin kernels
only; and a 4-to-2 Dense layer, which is nothing but each runtime's fixed cost per call. It
also says whether XNNPACK took each graph (a DELEGATE node in the interpreter's op list).
Everything is timed interleaved, the interpreter alone, one thread, medians; the multiply-adds
per second show where the time goes.

    .venv/bin/python scripts/bench_xnnpack.py           # ~1 minute
    .venv/bin/python scripts/bench_xnnpack.py --quick   # CI: checks the script works

Writes bench-results/xnnpack.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

SIZE = 32  # the feature map's height and width
WIDTHS = (8, 16, 32, 64, 128)


def models(widths):
    """``{name: (keras model, calibration inputs, multiply-adds)}``."""
    import numpy as np

    from kerasmodels.backend import keras

    rs = np.random.RandomState(0)
    made = {}
    for width in widths:
        inputs = keras.Input((SIZE, SIZE, width))
        model = keras.Model(inputs, keras.layers.Conv2D(width, 3, padding="same")(inputs))
        made[f"conv3x3 {width}->{width}"] = (model, rs.rand(20, SIZE, SIZE, width).astype(
            "float32"), SIZE * SIZE * 9 * width * width)
    inputs = keras.Input((4,))
    made["dense 4->2 (fixed cost)"] = (keras.Model(inputs, keras.layers.Dense(2)(inputs)),
                                       rs.rand(20, 4).astype("float32"), 8)
    return made


def runner(content: bytes, delegate: bool):
    """An interpreter over ``content`` (with or without the default delegate), its call, and
    whether a DELEGATE node took part of the graph."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from kerasmodels._compat import ops_of
    from kerasmodels.logs import quiet_native

    options = {} if delegate else {
        "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    with quiet_native():
        interpreter = Interpreter(model_content=content, num_threads=1, **options)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    return interpreter.invoke, "DELEGATE" in ops_of(interpreter)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    bench_options(parser, ROOT / "bench-results" / "xnnpack.json", "widths 16 and 64, 30 calls")
    args = parser.parse_args(argv)
    widths = (16, 64) if args.quick else WIDTHS
    if args.quick:
        args.calls = 30

    from kerasmodels.exports.tflite import convert
    from kerasmodels.measure import latencies

    calls, rows = {}, []
    for name, (model, sample, macs) in models(widths).items():
        for precision in ("float32", "int8"):
            content = convert(model, f"tflite-{precision}", sample, io_type="int8")
            for delegate in (True, False):
                call, delegated = runner(content, delegate)
                calls[len(rows)] = call
                rows.append({"model": name, "precision": precision,
                             "kernels": "XNNPACK" if delegate else "builtin",
                             "delegated": delegated, "multiply_adds": macs})
    for index, (p50, _) in latencies(calls, calls=args.calls).items():
        rows[index]["p50_us"] = round(p50 * 1000, 2)
        rows[index]["gmac_per_s"] = round(rows[index]["multiply_adds"] / (p50 / 1000) / 1e9, 1)
    print(format_table(rows))
    write_results(args.out, quick=args.quick, size=SIZE, calls=args.calls, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
