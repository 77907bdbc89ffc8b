"""Text pretraining then fine-tuning against training from scratch, on 10% of the labels.

For each corpus (``text`` with topic words around the signal words, ``context=0.8``, and the
plain ``text`` corpus) the transformer's encoder is pretrained without labels (masked tokens,
10 epochs on 6,000 sequences generated apart from the labelled data), then fine-tuned with
everything trained on a tenth of the labels; the same architecture is trained from scratch on
the same labels for the same epochs (``compare_scratch=True``). Prints a table and writes
bench-results/pretraining.json.

    .venv/bin/python scripts/bench_pretraining.py
    .venv/bin/python scripts/bench_pretraining.py --quick     # CI: checks the script works
    (tests/test_scale.py runs --quick with 6 pretraining epochs on 3,000 sequences and 15
    fine-tuning epochs, and checks that fine-tuning beats scratch)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import bench_options, format_table, write_results  # noqa: E402

SHOWN = ["corpus", "objective", "labels", "fine_tuned", "scratch"]  # printed columns
CORPORA = [("text with topic words (context=0.8)", {"context": 0.8}), ("plain text", {})]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-epochs", type=int, help="default 10 (--quick: 1)")
    parser.add_argument("--corpus-size", type=int, help="default 6000 (--quick: 500)")
    parser.add_argument("--epochs", type=int,
                        help="fine-tuning and scratch epochs, default 15 (--quick: 1)")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of the labels used")
    bench_options(parser, ROOT / "bench-results" / "pretraining.json",
                  "the first corpus, 1 epoch each on a small corpus unless given")
    args = parser.parse_args(argv)
    defaults = (1, 500, 1) if args.quick else (10, 6000, 15)
    for name, default in zip(("pretrain_epochs", "corpus_size", "epochs"), defaults,
                             strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    import kerasmodels as km

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in CORPORA[:1] if args.quick else CORPORA:
            lm = km.pretrain("transformer", "text", objective="masked",
                             epochs=args.pretrain_epochs, out_dir=tmp, verbose=0,
                             corpus_options={**options, "n": args.corpus_size})
            tuned = km.finetune(lm, "text", freeze="none", labelled_fraction=args.fraction,
                                epochs=args.epochs, dataset_options=options,
                                compare_scratch=True)
            record = tuned.manifest["finetune"]
            rows.append({"corpus": name, "objective": lm.manifest["pretraining"]["objective"],
                         "transferred_layers": record["backbone_layers"],
                         "labels": record["labelled_examples"],
                         "fine_tuned": round(tuned.metrics["test"]["accuracy"], 4),
                         "scratch": round(record["scratch"]["test"]["accuracy"], 4)})
            print(format_table(rows[-1:], SHOWN), flush=True)
    print(format_table(rows, SHOWN))
    write_results(args.out, pretrain_epochs=args.pretrain_epochs, corpus_size=args.corpus_size,
                  epochs=args.epochs, fraction=args.fraction, rows=rows, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
