"""Training on an image folder larger than memory: peak resident memory, streamed and not.

Generates a folder of ``--images`` JPEG images at 96x96 (Visual Wake Words' size) in two
classes (a bright ellipse on noise, and noise alone), then trains ``cnn_small`` on it for one
epoch in a fresh process twice: with ``images:`` read into memory (every image decoded into one
float32 array), and streamed (``stream=True``: each split decoded once into a file, read back a
batch at a time; ``kerasmodels/data/stream.py``). Each process reports its peak resident memory
(``VmHWM``) after loading, training, evaluating and saving, the seconds, and the test
accuracy; the two accuracies are the same (the same split, the same batches). Writes
bench-results/stream.json.

    .venv/bin/python scripts/bench_stream.py           # 20,000 images, ~6 minutes on 2 cores
    .venv/bin/python scripts/bench_stream.py --quick   # CI: 600 images
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

SIDE = 96
IMAGES, QUICK_IMAGES = 20_000, 600


def make_folder(root: Path, count: int, seed: int = 0) -> int:
    """``count`` JPEG images in ``person/`` and ``non_person/``; their total bytes."""
    import numpy as np
    from PIL import Image, ImageDraw

    rs = np.random.RandomState(seed)
    total = 0
    for i in range(count):
        label = ("person", "non_person")[i % 2]
        (root / label).mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(rs.randint(0, 160, (SIDE, SIDE, 3), dtype=np.uint8))
        if label == "person":
            x, y = rs.randint(10, SIDE - 40, 2)
            ImageDraw.Draw(image).ellipse((x, y, x + rs.randint(20, 38), y + rs.randint(28, 38)),
                                          fill=(230, 200, 170))
        path = root / label / f"{i:06d}.jpg"
        image.save(path, quality=90)
        total += path.stat().st_size
    return total


def peak_resident() -> int:
    """This process's peak resident memory in bytes (``VmHWM``: ``ru_maxrss`` would carry a
    larger parent's over ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status: Linux only")


def child(folder: str, stream: bool, out: str) -> int:
    """Load, train one epoch, evaluate and save; the peak resident memory and the figures."""
    import kerasmodels as km

    started = time.perf_counter()
    data = km.load_dataset(f"images:{folder}", image_size=(SIDE, SIDE), stream=stream)
    loaded = time.perf_counter() - started
    after_load = peak_resident()
    run = km.train("cnn_small", data, epochs=1, out_dir=Path(out).parent / "runs", verbose=0)
    Path(out).write_text(json.dumps({
        "stream": stream, "load_s": round(loaded, 1),
        "train_s": round(time.perf_counter() - started - loaded, 1),
        "peak_rss_after_load_bytes": after_load,
        "peak_rss_bytes": peak_resident(),
        "train_examples": len(data.train[0]), "test_accuracy": run.metrics["test"]["accuracy"],
        "array_bytes": int(sum(getattr(data, s)[0].nbytes for s in ("train", "val", "test"))),
    }))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=IMAGES)
    parser.add_argument("--child", nargs=3, metavar=("FOLDER", "STREAM", "OUT"),
                        help=argparse.SUPPRESS)
    bench_options(parser, ROOT / "bench-results" / "stream.json", f"{QUICK_IMAGES} images")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1] == "1", args.child[2])
    count = QUICK_IMAGES if args.quick else args.images
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        folder = Path(tmp) / "images"
        started = time.perf_counter()
        jpeg_bytes = make_folder(folder, count)
        made_s = round(time.perf_counter() - started, 1)
        env = {**os.environ, "KERASMODELS_DATA_DIR": str(Path(tmp) / "data")}
        for stream in (False, True):
            out = Path(tmp) / f"{stream}.json"
            result = subprocess.run([sys.executable, __file__, "--child", str(folder),
                                     "1" if stream else "0", str(out)], env=env,
                                    capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stderr[-3000:], file=sys.stderr)
                return 1
            rows.append(json.loads(out.read_text()))
            print(format_table([rows[-1]]), flush=True)
    memory, streamed = rows
    ratio = round(memory["peak_rss_bytes"] / streamed["peak_rss_bytes"], 2)
    print(f"{count} images ({jpeg_bytes / 1e6:.0f} MB of JPEG, {memory['array_bytes'] / 1e9:.2f} "
          f"GB as float32): peak resident memory {memory['peak_rss_bytes'] / 1e9:.2f} GB in "
          f"memory, {streamed['peak_rss_bytes'] / 1e9:.2f} GB streamed ({ratio}x)")
    write_results(args.out, quick=args.quick, images=count, side=SIDE, jpeg_bytes=jpeg_bytes,
                  make_s=made_s, rows=rows, memory_over_streamed=ratio,
                  same_accuracy=memory["test_accuracy"] == streamed["test_accuracy"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
