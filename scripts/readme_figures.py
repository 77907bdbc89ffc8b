"""The figures of the README and the docs site, generated from bench-results/*.json so that
text and data cannot drift.

Every block between ``<!-- figures: NAME -->`` and ``<!-- /figures -->`` in README.md and
docs/*.md is rewritten from ``bench-results/NAME.json`` (written by ``scripts/bench_NAME.py``)
by the renderer of that name below, with the machine it was measured on. Each block lives in
one file only (most in docs/benchmarks.md).

    .venv/bin/python scripts/readme_figures.py           # rewrite README.md and docs/*.md
    .venv/bin/python scripts/readme_figures.py --check   # exit 1 if any is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerasmodels.report import describe_machine, kilobytes  # noqa: E402

MARKER = re.compile(r"(<!-- figures: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures -->)",
                    re.DOTALL)
RENDERERS: dict[str, Callable[[dict], str]] = {}
FROM_CODE: set[str] = set()  # blocks rendered from kerasmodels' own constants, not a JSON file
SOURCES: dict[str, str] = {}  # blocks read from another script's JSON file


def renderer(name: str, from_code: bool = False, source: str | None = None):
    def register(function):
        RENDERERS[name] = function
        if from_code:
            FROM_CODE.add(name)
        if source:
            SOURCES[name] = source
        return function
    return register


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def num(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ms(value) -> str:
    """Milliseconds with three significant digits (0.0154, 0.571, 85.0)."""
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def pp(a: float, b: float) -> str:
    return f"{100 * (a - b):+.2f} pp"


def machine_line(data: dict, what: str = "") -> str:
    return f"\n\n*{what}Measured on {describe_machine(data['machine'])}.*"


@renderer("export_formats", from_code=True)
def render_export_formats(_: dict) -> str:
    from kerasmodels.formats import export_formats

    rows = [[f"`{f.name}`" + ("" if f.default else " (when named)"), f"`{f.file}`", f.device,
             f.runtime, f"{100 * f.agreement_floor:g}%" + (" (lossless)" if f.lossless else ""),
             f"{f.difference_ceiling:g}", f"{f.auc_drop_ceiling:g}",
             ", ".join(f"`{o}`" for o in f.options) or "-", f.note] for f in export_formats()]
    return table(["format", "file", "for", "checked in", "top-1 agreement with Keras at least",
                  "max difference at most (regression, in std of the outputs)",
                  "AUC drop at most (anomaly detection)", "options", "note"], rows)


def option_rows(options: dict) -> str:
    """An option table's rows: name, default, what it accepts, what it means, its search."""
    rows = [[f"`{o.name}`", "-" if o.default is None else f"`{o.default!r}`", o.expected,
             o.help, "-" if o.search is None else f"`{o.search!r}`"] for o in options.values()]
    rows = [[cell.replace("|", "\\|") for cell in row] for row in rows]
    return table(["option", "default", "accepts", "meaning", "searched over"], rows)


@renderer("training_options", from_code=True)
def render_training_options(_: dict) -> str:
    from kerasmodels.options import TRAINING

    return option_rows(TRAINING)


@renderer("compression_options", from_code=True)
def render_compression_options(_: dict) -> str:
    from kerasmodels.options import COMPRESSION

    return option_rows(COMPRESSION) + ("\n\nA default of `-` is the step's own, in its "
                                       "signature: `km.recipe_options(recipe)` lists them.")


@renderer("train")
def render_train(data: dict) -> str:
    rows = [[r["arch"], r["dataset"], r["epochs"], f"{r['params']:,}", f"{r['wall_s']:.1f}",
             num(r["test_accuracy"]) if r["test_accuracy"] is not None
             else f"MAE {num(r['test_mae'])}"] for r in data["rows"]]
    overhead = [[f"{r['arch']}/{r['dataset']}", r["epochs"], r["repeats"], r["km_train_fit_s"],
                 r["plain_fit_s"], f"**{r['plain_over_km']:.2f}**"] for r in data["overhead"]]
    return (table(["arch", "dataset", "epochs", "params", "wall s", "test accuracy"], rows)
            + "\n\nkm.train's fit against a plain `model.fit` of the same model, data, batch and "
            "validation (median of interleaved repeats; target ratio >= "
            f"{data['target_ratio']}):\n\n"
            + table(["model", "epochs", "repeats", "km.train fit s", "model.fit s",
                     "model.fit / km.train"], overhead) + machine_line(data))


@renderer("regularizers")
def render_regularizers(data: dict) -> str:
    rows = [[r["regularizer"], f"{100 * r['near_zero']:.1f}%", f"{r['l2_norm']:.2f}",
             num(r["test_accuracy"], 3)] for r in data["rows"]]
    return (f"digits MLP, {data['epochs']} epochs, strength {data['strength']:g}, first dense "
            f"layer ({data['rows'][0]['shape']}):\n\n"
            + table(["regularizer", "weights with \\|w\\| < 1e-3", "L2 norm", "test accuracy"],
                    rows) + machine_line(data))


@renderer("optimizers")
def render_optimizers(data: dict) -> str:
    rows = [[r["model"], r["optimizer"], r["ours_steps_s"], r["keras_steps_s"],
             f"{r['ratio']:.3f}"] for r in data["rows"]]
    worst = min(r["ratio"] for r in data["rows"])
    settings = data["settings"]
    return (table(["model", "optimizer", "ours steps/s", "Keras steps/s",
                   "ratio (median of paired rounds)"], rows)
            + f"\n\nThe slowest ratio is {worst:.3f} (target >= {data['target']}; "
            f"{settings['rounds']} rounds of {settings['steps']} steps, batch "
            f"{settings['batch_size']}, {settings['threads']} thread)." + machine_line(data))


@renderer("compression")
def render_compression(data: dict) -> str:
    parent = data["parent"]
    rows = []
    for r in data["recipes"]:
        name = r["recipe"] + (f" ({r['options']})" if r["options"] else "")
        float32 = r.get("float32_gzip_bytes")
        rows.append([name, "" if r["seconds"] is None else f"{r['seconds']:.1f}",
                     f"{r['params']:,}", "" if float32 is None else kilobytes(float32),
                     f"{kilobytes(r['int8_gzip_bytes'])} ({r['int8_x_smaller']}x)",
                     f"{num(r.get('float32_accuracy'))} / {num(r['int8_accuracy'])}"])
    text = (f"From the default digits CNN ({parent['epochs']} epochs, {parent['params']:,} "
            f"parameters, Keras test accuracy {parent['test_accuracy']:.4f} on "
            f"{parent['test_examples']} digits: one digit is "
            f"{100 / parent['test_examples']:.2f} pp), each child exported and run through "
            "LiteRT on the test split (kB = 1,000 bytes; x smaller: against the parent's "
            "float32 file):\n\n"
            + table(["recipe (defaults)", "time s", "params", "float32 TFLite gzip kB",
                     "int8 TFLite gzip kB", "accuracy float32 / int8"], rows))
    by_recipe = {r["recipe"] + r["options"]: r for r in data["recipes"]}
    notes = []
    prune = by_recipe.get("prune")
    if prune and prune.get("sparsity"):
        notes.append("sparsity after `prune` 80%: " + ", ".join(
            f"{k} {100 * v:.1f}%" for k, v in prune["sparsity"].items()))
    distill = by_recipe.get("distill")
    if distill:
        notes.append(f"the distilled student reaches {distill['int8_accuracy']:.4f} in int8 "
                     f"({num(distill.get('float32_accuracy'))} float32); the same student "
                     f"trained alone for the same epochs {distill['student_alone_accuracy']:.4f} "
                     f"(Keras), the teacher {distill['teacher_accuracy']:.4f}")
    qat, ptq = by_recipe.get("qat"), data["recipes"][0]
    if qat:
        notes.append(f"QAT's int8 against post-training int8 of the parent: "
                     f"{qat['int8_accuracy']:.4f} against {ptq['int8_accuracy']:.4f} "
                     f"({pp(qat['int8_accuracy'], ptq['int8_accuracy'])})")
    lstm = data["lstm"]
    notes.append(f"on the sequence LSTM ({lstm['qat_epochs']} QAT epochs; LSTM layers left "
                 f"float): int8 after QAT {lstm['qat_int8_accuracy']:.4f} against post-training "
                 f"int8 {lstm['ptq_int8_accuracy']:.4f} "
                 f"({pp(lstm['qat_int8_accuracy'], lstm['ptq_int8_accuracy'])}; Keras "
                 f"{lstm['keras_accuracy']:.4f})")
    return text + "\n\n" + "\n".join(f"- {note}." for note in notes) + machine_line(data)


@renderer("formats", source="compression")
def render_formats(data: dict) -> str:
    def kb(value):
        return "-" if value is None else kilobytes(value)

    rows = [[r["format"], r["runtime"], kilobytes(r["bytes"]), kilobytes(r["gzip_bytes"]),
             kb(r.get("flash_bytes")), kb(r.get("ram_bytes")), num(r["top1_agreement"]),
             num(r["accuracy"]), ms(r["p50_ms"]), r["threads"]] for r in data["formats"]]
    by_format = {r["format"]: r for r in data["formats"]}
    keras_threads = by_format.get("keras", {}).get("threads")
    text = (table(["format", "runtime", "kB", "gzip kB", "flash kB", "RAM kB", "top-1 agreement",
                   "accuracy (its runtime)", "p50 ms", "threads"], rows)
            + "\n\np50: batch 1, the runtime alone (set_tensor/invoke/get_tensor for LiteRT, "
            "`session.run` for ONNX Runtime, TFLM's `invoke`, the compiled call for Keras and "
            f"TensorFlow, whose threads are process-wide: {keras_threads}), every variant "
            "interleaved. Flash: the model file a device stores (for tflite-micro the model "
            "alone, not its C source). RAM: TFLM's measured tensor arena; for LiteRT and ONNX "
            "Runtime the peak resident memory a fresh process adds while it loads the file and "
            "runs one example (interpreter, delegate and session included).")
    slow, base = by_format.get("tflite-int16x8"), by_format.get("tflite-float32")
    if slow and base:
        text += (f" int16x8 runs {slow['p50_ms'] / base['p50_ms']:.0f}x slower than float32 "
                 "here: LiteRT has no fast kernel for it, so it is made only when named.")
    return text + machine_line(data)


@renderer("frontier")
def render_frontier(data: dict) -> str:
    parts = []
    for name, case in data["cases"].items():
        found = case["figures"]
        rows = []
        for r in case["rows"]:
            if not r["pareto"]:
                continue
            recipe = r["recipe"] + (f" ({r['options']})" if r.get("options") else "")
            rows.append([recipe, r["format"], f"{r['bytes']:,}", f"{r['gzip_bytes']:,}",
                         r["x_smaller"], f"{r['multiply_adds']:,}", ms(r["latency_floor_ms"]),
                         ms(r["p50_ms"]), num(r["val_accuracy"]), num(r["test_accuracy"])])
        lines = [f"**{name}** ({case['params']:,} parameters, {case['epochs']} epochs): parent "
                 f"test accuracy {found['parent_test_accuracy']:.4f}, validation "
                 f"{found['parent_val_accuracy']:.4f}. The Pareto front (validation accuracy, "
                 "raw bytes, gzip bytes, latency):", "",
                 table(["recipe", "format", "bytes", "gzip bytes", "x smaller", "multiply-adds",
                        "floor ms", "p50 ms", "val accuracy", "test accuracy"], rows), ""]
        targets = data["targets"]
        for key, unit, what in (("smallest", "x_smaller", "smaller (gzip) than the parent's "
                                 "float32 TFLite"),
                                ("fastest", "x_faster", "faster (p50) than the parent in the "
                                 "same format")):
            row = found.get(key)
            if not row:
                lines.append(f"- {key}: nothing within {data['budget_pp']:g} pp on validation "
                             "at the lower end of its 95% interval.")
                continue
            target = targets[unit]
            verdict = ("target reached" if row[unit] >= target else
                       f"target {target:g}x not reached: {target / row[unit]:.2f}x short")
            lines.append(f"- {key} within {data['budget_pp']:g} pp (chosen on validation, at "
                         "the lower end of its 95% interval): "
                         + ("the parent itself" if row["recipe"] == "none" else
                            f"{row['recipe']} ({row['options']})")
                         + f" {row['format']}, **{row[unit]}x** "
                         f"{what} ({verdict}); test accuracy {row['test_pp']:+.2f} pp.")
        speedups = ", ".join(f"{r['format']} {r['x_faster']}x ({r['recipe']}, "
                             f"{ms(r['p50_ms'])} ms against {ms(r['parent_p50_ms'])}, floor "
                             f"{ms(r['latency_floor_ms'])})" for r in found["by_format"])
        lines.append(f"- the fastest within the budget in each format: {speedups}.")
        checks = ", ".join(f"{r['format']} {ms(r['with_delegate_ms'])} ms with it and "
                           f"{ms(r['without_delegate_ms'])} without" for r in case["delegate"])
        lines.append(f"- the parent with and without LiteRT's default delegate (XNNPACK): "
                     f"{checks}.")
        parts.append("\n".join(lines))
    from kerasmodels.formats import format_names

    return ("\n\n".join(parts) + "\n\nfloor: the multiply-adds at this CPU's vector width and "
            "clock with two FMA units and nothing else (`report.latency_floor_ms`; int8 lanes "
            f"for {' and '.join(format_names(int8_kernels=True))}, whose kernels multiply int8 "
            "values); p50: LiteRT alone, one thread, every artifact interleaved." +
            machine_line(data))


def interval(row: dict) -> str:
    """A row's paired difference from the parent on validation, in points, with its 95%
    bootstrap interval."""
    return (f"{100 * row['val_diff']:+.2f} [{100 * row['val_diff_low']:+.2f}, "
            f"{100 * row['val_diff_high']:+.2f}]")


@renderer("sweep")
def render_sweep(data: dict) -> str:
    rows = []
    for r in data["rows"]:
        if r.get("status", "ok") != "ok":
            continue
        pick = data["pick"] and r["path"] == data["pick"]["path"]
        recipe = r["recipe"] + (f" ({r['options']})" if r.get("options") else "")
        cells = [recipe, r["format"], f"{r['gzip_bytes']:,}", r["x_smaller"],
                 num(r["val_accuracy"]), interval(r), num(r["test_accuracy"]), ms(r["p50_ms"]),
                 "yes" + (" (the pick)" if pick else "") if r["pareto"] else ""]
        rows.append([f"**{c}**" if pick and i < 7 else c for i, c in enumerate(cells)])
    pick = data["pick"]
    text = table(["recipe", "format", "gzip bytes", "x smaller", "val accuracy",
                  "val difference, pp [95%]", "test accuracy", "p50 ms", "Pareto"], rows)
    if pick:
        text += (f"\n\nThe pick, the smallest whose interval's lower end is within 1 pp of the "
                 f"parent's validation accuracy ({data['parent_val_accuracy']:.4f}, "
                 f"{data['val_examples']} examples): {pick['recipe']} in {pick['format']}, "
                 f"{pick['x_smaller']}x smaller, validation {pick['val_accuracy']:.4f} "
                 f"({interval(pick)} pp); on test "
                 f"{pick['test_accuracy']:.4f} against the parent's {data['parent_accuracy']:.4f}"
                 f" ({pp(pick['test_accuracy'], data['parent_accuracy'])}). The whole sweep "
                 f"took {data['wall_s']} s (target < {data['target_s']} s).")
    return text + machine_line(data, "p50: the runtime alone, 1 thread, interleaved. ")


def yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


@renderer("scale")
def render_scale(data: dict) -> str:
    workers = data["workers"]
    rows = [[r["workers"], r["wall_s"], r["variants"], r["variants_per_minute"], r["pick"]]
            for r in workers["rows"]]
    text = table(["workers", "wall s", "variants", "variants per minute", "pick"], rows)
    text += (f"\n\nTwo workers make {workers['speedup']}x the variants per minute of one on "
             f"{data['cpus']} cores (each training already uses both); both sweeps measured "
             f"the same rows: {yes(workers['same_rows'])}, and made the same pick: "
             f"{yes(workers['same_pick'])}.")
    resumed = data["resume"]
    text += (f" Killed (SIGKILL) after {resumed['finished_before_kill']} of "
             f"{resumed['variants']} variants and started again: "
             f"{resumed['variants_finished_twice']} variants finished twice, "
             f"{resumed['trials_failed_by_the_kill']} trials failed by the kill and made again, "
             f"the rest in {resumed['resumed_wall_s']} s; the same rows as the serial sweep: "
             f"{yes(resumed['same_rows_as_serial'])}.")
    seeds = [[r["seed"], num(r["parent_test"]), r["pick"], r["pick_x_smaller"],
              num(r["pick_test"]), f"{r['test_drop_pp']:+.2f}", r["val_diff_95"],
              f"{r['allowed_pp']:.2f}", "yes" if r["within"] else "**no**",
              r["point_rule_pick"], r["point_rule_x_smaller"],
              "-" if r["point_rule_test_drop_pp"] is None
              else f"{r['point_rule_test_drop_pp']:+.2f}"] for r in data["seeds"]]
    text += ("\n\nFive seeds of the digits CNN, each swept at a budget of "
             f"{100 * data['budget']:g} pp; test drop = parent minus pick, in points; allowed = "
             "the budget plus the half-width of the pick's interval. The last three columns: "
             "what the rule it replaced (validation accuracy alone within the budget) picked "
             "and lost:\n\n")
    text += table(["seed", "parent test", "pick", "x smaller", "pick test", "test drop pp",
                   "val difference [95%]", "allowed pp", "within", "point-rule pick",
                   "x smaller", "test drop pp"], seeds)
    beyond = sum(r["point_rule_test_drop_pp"] is not None
                 and r["point_rule_test_drop_pp"] > 100 * data["budget"] for r in data["seeds"])
    text += (f"\n\nThe interval pick: {data['seeds_within']} of {len(data['seeds'])} seeds "
             f"within. The rule it replaced lost more than the budget on test in {beyond} of "
             f"{len(data['seeds'])}. `scripts/bench_scale.py`.")
    return text + machine_line(data)


@renderer("runtimes")
def render_runtimes(data: dict) -> str:
    by_model: dict[str, dict[str, float]] = {}
    for r in data["rows"]:
        by_model.setdefault(r["model"], {})[r["runtime"]] = r["p50_ms"]
    threads = data["threads"]
    one, two = min(threads), max(threads)

    def pair(p50, kind):
        values = [p50.get(f"{kind} x{n}") for n in (one, two)]
        return " / ".join(ms(v) for v in values)

    rows = [[model, ms(p50["keras predict"]), ms(p50["keras call (eager)"]),
             ms(p50["keras tf.function"]), pair(p50, "litert float32"),
             pair(p50, "litert float16"), pair(p50, "litert int8"), pair(p50, "onnxruntime")]
            for model, p50 in by_model.items()]
    def speed(ratio: float) -> str:
        return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"

    summary = "; ".join(
        f"{s['model']}: the best, {s['best_edge_runtime']}, is {s['x_vs_predict']:,.0f}x faster "
        f"than `predict` and {s['x_vs_eager_call']:,.0f}x than an eager call; int8 is "
        f"{speed(s['float32_over_int8'])} than float32" for s in data["summary"])
    check = data["benchmark_timer_check"]
    return (table(["model", "Keras `predict`", "Keras eager `model(x)`", "Keras tf.function",
                   f"LiteRT float32 x{one} / x{two}", f"LiteRT float16 x{one} / x{two}",
                   f"LiteRT int8 x{one} / x{two}", f"ONNX Runtime x{one} / x{two}"], rows)
            + f"\n\nBatch-1 p50 in ms, {data['calls']} calls each, interleaved; xN is the runtime's "
            f"threads (Keras runs on TensorFlow's {data.get('tensorflow_threads', '?')}, "
            f"process-wide). {summary}. "
            f"`km.benchmark`'s float32 TFLite figure is {check['ratio']}x a bare LiteRT loop on "
            f"the same file ({ms(check['benchmark_p50_ms'])} against "
            f"{ms(check['bare_loop_p50_ms'])} ms; target within 1.3x)." + machine_line(data))


@renderer("distributed")
def render_distributed(data: dict) -> str:
    rows = [[r["workers"], r["samples_per_s"], r["allreduce_ms_per_step"],
             f"{100 * r['communication_share']:.1f}%", num(r["test_accuracy"]),
             "yes" if r["identical_weights"] else "**no**"] for r in data["rows"]]
    return (table(["workers", "samples/s", "all-reduce ms per step", "communication share",
                   "test accuracy", "every worker ends with the same weights (sha256)"], rows)
            + f"\n\nTwo workers / one: {data['speedup']:.2f}x samples per second "
              f"({data['epochs']} epochs, global batch {data['rows'][0]['global_batch']})."
            + machine_line(data))


@renderer("pretraining")
def render_pretraining(data: dict) -> str:
    rows = [[r["corpus"], r["labels"], f"**{r['fine_tuned']:.4f}**"
             if r["fine_tuned"] > r["scratch"] else f"{r['fine_tuned']:.4f}",
             f"{r['scratch']:.4f}"] for r in data["rows"]]
    return (f"Transformer, masked pretraining ({data['pretrain_epochs']} epochs on "
            f"{data['corpus_size']:,} sequences), then {data['epochs']} epochs on "
            f"{100 * data['fraction']:.0f}% of the labels:\n\n"
            + table(["corpus", "labels", "fine-tuned", "from scratch"], rows)
            + machine_line(data))


def speed_note(data: dict) -> str:
    """How the imported model's int8 file times against its float32 one."""
    p50 = {r["format"]: r["p50_ms"] for r in data["rows"] if r["recipe"] == "import"}
    if not p50.get("tflite-int8") or not p50.get("tflite-float32"):
        return ""
    ratio = p50["tflite-int8"] / p50["tflite-float32"]
    return (f"\n\nOn this model LiteRT's int8 file takes {ratio:.2f}x the float32 file's time per "
            "example" + (": here int8 buys size, not speed" if ratio > 1 else ""))


@renderer("import")
def render_import(data: dict) -> str:
    pick = data["pick"]
    chosen = (f"**{pick['recipe']}{' (' + pick['options'] + ')' if pick['options'] else ''} "
              f"as {pick['format']}**: {kilobytes(pick['gzip_bytes'])} kB gzipped "
              f"({pick['x_smaller']:g}x smaller than the float32 import), validation accuracy "
              f"{pick['val_accuracy']:.4f}, test accuracy {pick['test_accuracy']:.4f}, "
              f"{ms(pick['p50_ms'])} ms per example" if pick else "nothing within the budget")
    front = [[r["recipe"], r["options"], r["format"], kilobytes(r["gzip_bytes"]),
              num(r["val_accuracy"]), num(r["test_accuracy"]), ms(r["p50_ms"])]
             for r in data["rows"] if r["pareto"]]
    return (table(["measure", "value"], [
        ["Keras 3 model", f"Keras {data['keras_version']}, {data['params']:,} parameters, "
                          f"{data['epochs']} epochs of Keras 3's fit ({data['train_s']:.0f} s)"],
        ["`km.import_model` (read, rebuild, check, evaluate, save)", f"{data['import_s']:.2f} s"],
        ["max abs difference, Keras 3 vs the tf_keras rebuild (val + test inputs)",
         f"{data['max_abs_difference']:.2g}"],
        ["imported model's accuracy (val / test)",
         f"{data['imported_accuracy']['val']:.4f} / {data['imported_accuracy']['test']:.4f}"],
        ["`km.sweep` wall time", f"{data['sweep_s']:.0f} s"],
    ]) + speed_note(data) + f"\n\nThe sweep's pick (the smallest whose paired difference from the import on "
        f"validation is within {data['accuracy_budget']:.0%} at the lower end of its 95% "
        f"interval): {chosen}. Its Pareto front:\n\n"
        + table(["recipe", "options", "format", "kB gzip", "val acc", "test acc", "p50 ms"],
                front) + machine_line(data))


@renderer("micro")
def render_micro(data: dict) -> str:
    ram, flash = data["ram_bytes"], data["flash_bytes"]
    rows, refused = [], []
    for r in data["rows"]:
        if "unsupported" in r:
            reason = r["unsupported"].split("cannot hold this model: ")[-1].split(": ")[0]
            refused.append(f"{r['model']} ({reason})")
            continue
        before = r.get("flash_bytes_uncompressed", r["flash_bytes"])
        squeezed = (f"{kilobytes(r['flash_bytes'])} ({r['flash_bytes'] / before:.2f}x of "
                    f"{kilobytes(before)}; {r['compressed_tensors']} tensors at "
                    f"{'/'.join(map(str, r['index_bits']))} bits)"
                    if r.get("compressed_tensors") else f"{kilobytes(r['flash_bytes'])}")
        arena = (f"{kilobytes(r['arena_bytes'])} ({kilobytes(r['arena_bytes_uncompressed'])} "
                 "before)" if r.get("compressed_tensors") else f"{kilobytes(r['arena_bytes'])}")
        tflm = (f"{ms(r.get('tflm_p50_ms'))} ({ms(r.get('tflm_uncompressed_p50_ms'))} before)"
                if r.get("compressed_tensors") else ms(r.get("tflm_p50_ms")))
        agreement = (f"{r['litert_agreement']:.4f}" if r.get("litert_agreement") is not None
                     else f"max diff {r['litert_max_abs_diff']:.3g}")
        rows.append([r["model"], r["recipe"], squeezed, arena, r["ops"],
                     agreement, f"{r['metric']} {r['tflm_test']:.4f}", tflm,
                     ms(r.get("litert_p50_ms")), "yes" if r["fits_256k_ram_1m_flash"] else "no"])
    fits = [f"{r['model']} {r['recipe']}".replace(" none", "") for r in data["rows"]
            if r.get("fits_256k_ram_1m_flash")]
    text = (table(["model", "recipe", "flash kB (TFLM-compressed: of the plain file)",
                   "arena kB", "ops", "TFLM = LiteRT (top-1)", "TFLM test", "TFLM p50 ms",
                   "LiteRT int8 p50 ms", f"fits {ram // 1024} KB RAM / {flash // 2**20} MB flash"],
                  rows)
            + f"\n\nFit a {ram // 1024} KB RAM / {flash // 2**20} MB flash microcontroller: "
            + (", ".join(fits) or "none") + "."
            + (f" TFLM cannot run: {'; '.join(refused)}." if refused else "")
            + " p50: one example through TFLM's reference kernels on this CPU, not on a "
            "microcontroller, interleaved with LiteRT on the same (uncompressed) file, "
            f"{data['calls']} calls each.")
    frontier = data.get("frontier")
    if frontier:
        boards = {b["name"]: b for b in frontier["boards"]}
        front = [[r["recipe"] + (f" ({r['options']})" if r.get("options") else ""),
                  f"{kilobytes(r['flash_bytes'])}", f"{kilobytes(r['arena_bytes'])}",
                  ms(r["p50_ms"]), num(r["val_score"]), num(r["test_score"]),
                  ", ".join(r["boards"]) or "none"]
                 for r in frontier["rows"] if r["status"] == "ok" and r["pareto"]]
        pick = frontier["pick"]
        text += ("\n\nThe micro frontier: `km.sweep(cnn, target=\"micro\")` over the sweep's "
                 f"recipes ({len(frontier['rows'])} rows), ranked on validation "
                 f"{frontier['metric']}, flash, arena and TFLM latency; its Pareto front:\n\n"
                 + table(["recipe", "flash kB", "arena kB", "TFLM p50 ms",
                          f"val {frontier['metric']}", f"test {frontier['metric']}",
                          "fits (board classes)"], front)
                 + "\n\n" + (f"Pick (the smallest flash whose paired difference "
                              f"from the parent's validation {frontier['metric']} "
                              f"{frontier['parent_val_score']:.4f} is within "
                              f"{frontier['accuracy_budget']:g} at the lower end of its 95% "
                              "interval): "
                              f"**{pick['recipe']}**, {kilobytes(pick['flash_bytes'])} kB flash, "
                              f"{kilobytes(pick['arena_bytes'])} kB arena, test "
                              f"{pick['test_score']:.4f}; fits "
                              f"{', '.join(pick['boards']) or 'no board class'}."
                              if pick else "No variant is within the budget.")
                 + " Board classes (`kerasmodels/boards.py`): " + "; ".join(
                     f"{name}: {b['ram_bytes'] // 1024} KB RAM, {b['flash_bytes'] // 1024} KB "
                     f"flash ({b['examples']})" for name, b in boards.items())
                 + ". TFLM's code and the application need room besides.")
    return text + machine_line(data)


@renderer("xnnpack")
def render_xnnpack(data: dict) -> str:
    by = {(r["model"], r["precision"], r["kernels"]): r for r in data["rows"]}
    models = list(dict.fromkeys(r["model"] for r in data["rows"]))
    rows = []
    for model in models:
        cells = [model]
        for precision in ("float32", "int8"):
            for kernels in ("XNNPACK", "builtin"):
                r = by[(model, precision, kernels)]
                cells.append(f"{ms(r['p50_us'])} µs" + (f" ({r['gmac_per_s']:g})"
                                                       if r["multiply_adds"] > 100 else ""))
        rows.append(cells)
    delegated = all(r["delegated"] for r in data["rows"] if r["kernels"] == "XNNPACK")
    return (table(["layer (32x32 map)", "float32 XNNPACK", "float32 builtin", "int8 XNNPACK",
                   "int8 builtin"], rows)
            + "\n\nIn brackets: multiply-adds per second (GMAC/s). XNNPACK took "
            + ("every graph (each interpreter has its DELEGATE node)" if delegated else
               "not every graph")
            + f"; median of {data['calls']} interleaved calls, the interpreter alone, one thread."
            + machine_line(data))


@renderer("kws")
def render_kws(data: dict) -> str:
    ref = data["reference"]
    rows = [[f["format"], f"{f['bytes']:,}", num(f["accuracy"]), num(f["agreement"])]
            for f in data["formats"]]
    p50 = data["p50_ms"]
    return (table(["format", "bytes", "test accuracy", "top-1 = Keras"], rows)
            + "\n\n" + table(["", "kerasmodels", "MLPerf Tiny reference"], [
                ["parameters", f"{data['params']:,}", f"{ref['params']:,}"],
                ["Keras test accuracy", num(data["keras_test_accuracy"]),
                 f"target {ref['target_top1']:.2f} (Speech Commands)"],
                ["int8 against Keras", f"{data['int8_minus_keras_pp']:+.2f} pp", ""],
                ["int8 file / TFLM flash", f"{kilobytes(data['int8_bytes'])} kB / "
                 f"{kilobytes(data['micro_flash_bytes'])} kB", f"~{ref['int8_kb']} kB"],
                ["TFLM arena (measured)", f"{kilobytes(data['micro_arena_bytes'])} kB", ""],
                ["features.tflite (LiteRT)", f"{kilobytes(data['features_bytes'])} kB", ""],
                ["TFLM = LiteRT top-1", num(data["tflm_litert_agreement"]), ""],
                ["int8 from the test speakers' WAV files (EdgeModel)",
                 f"{num(data['wav_int8_accuracy'])} on {data['wav_keywords']} clips", ""]])
            + "\n\n" + table(["runtime, one inference", "p50 ms"],
                              [[k, ms(v)] for k, v in p50.items()])
            + f"\n\n{data['epochs']} epochs ({data['train_s']:.0f} s). p50: the runtime alone, "
            f"interleaved, {data['calls']} calls each; TFLM runs its reference kernels on this CPU, "
            "not on a microcontroller." + machine_line(data))


@renderer("tiny")
def render_tiny(data: dict) -> str:
    rows = [[r["task"], f"`{r['arch']}`", "x".join(map(str, r["input"])),
             f"{r['params']:,} ({'=' if r['params'] == r['reference_params'] else '!='})",
             f"{r['multiply_adds'] / 1e6:.2f} M",
             f"{kilobytes(r['flash_bytes'])} kB / {kilobytes(r['published_bytes'])} kB "
             f"({r['flash_vs_published']:.2f}x)",
             f"{r['weights_vs_published']:.3f}x", f"{kilobytes(r['arena_bytes'])} kB",
             ms(r["tflm_p50_ms"]), ms(r["litert_p50_ms"]),
             f"{r['metric']} {num(r['int8_test'], 3)} ({r['stand_in']}, {r['epochs']} epochs)",
             f"{r['target']}: {r['real_data_quality']}"] for r in data["rows"]]
    out = table(["task", "model", "input", "parameters (= reference)", "multiply-adds",
                 "int8 flash / published file", "weights and biases / published",
                 "TFLM arena (measured)", "TFLM p50 ms", "LiteRT int8 p50 ms",
                 "int8 on the stand-in (test)", "real dataset"], rows)
    if data.get("sweeps"):
        picks = [[f"`{s['arch']}`", s["metric"], num(s["parent_val"], 3),
                  f"{s['budget']:g} ({s['val_examples']} val. examples)" if "budget" in s
                  else f"{data['sweep_budget']:g}", s["variants"],
                  (f"{s['pick']['recipe']}" + (f" ({s['pick']['options']})"
                                                if s["pick"]["options"] else "")
                   if s["pick"] else "none within the budget"),
                  num(s["pick"]["val"], 3) if s["pick"] else "-",
                  num(s["pick"]["test"], 3) if s["pick"] else "-",
                  f"{kilobytes(s['pick']['flash_bytes'])} kB" if s["pick"] else "-",
                  f"{kilobytes(s['pick']['arena_bytes'])} kB" if s["pick"] else "-"]
                 for s in data["sweeps"]]
        by_interval = all(s["pick"] is None or "val_diff_95" in s["pick"]
                          for s in data["sweeps"])
        rule = ("whose paired difference from the parent on validation is within the budget at "
                "the lower end of its 95% interval" if by_interval else
                "whose validation score alone is within the budget (these picks predate the "
                "interval rule of the sweep: `bench_tiny.py`, about 25 minutes, makes them "
                "again by it)")
        out += ("\n\nThen `km.sweep(run, formats=[\"tflite-int8\"])` on each stand-in run, at "
                "the default budget (one point, or one validation example when that is more): "
                f"the smallest int8 variant {rule}, exported for TFLM.\n\n"
                + table(["model", "score", "parent (val)", "budget", "int8 variants", "pick",
                         "pick (val)", "pick (test)", "flash", "arena"], picks))
    return (out + f"\n\nPublished: the int8 files of {data['reference']} "
            "(`benchmark/training/*/trained_models`). p50: one example, the runtime alone, "
            f"interleaved, {data['calls']} calls each; TFLM runs its reference kernels on this "
            "CPU, not on a microcontroller." + machine_line(data))


@renderer("stream")
def render_stream(data: dict) -> str:
    rows = [["streamed (`stream=True`)" if r["stream"] else "in memory",
             f"{r['peak_rss_after_load_bytes'] / 1e9:.2f} GB", f"{r['peak_rss_bytes'] / 1e9:.2f} GB",
             f"{r['load_s']:.0f}", f"{r['train_s']:.0f}", num(r["test_accuracy"])]
            for r in data["rows"]]
    return (table(["images:", "peak resident memory after loading", "peak after training 1 epoch",
                   "load s", "train, evaluate, save s", "test accuracy"], rows)
            + f"\n\n{data['images']:,} images of {data['side']}x{data['side']} "
            f"({data['jpeg_bytes'] / 1e6:.0f} MB of JPEG, "
            f"{data['rows'][0]['array_bytes'] / 1e9:.2f} GB as float32 arrays); `cnn_small`, one "
            "epoch; " + ("the same test accuracy both ways" if data["same_accuracy"] else
                         "different test accuracies (a defect)") + ". In memory takes "
            f"{data['memory_over_streamed']}x the streamed process's peak." + machine_line(data))


@renderer("export_matrix")
def render_export_matrix(data: dict) -> str:
    formats = [*data["formats"], *sorted({c["format"] for c in data["cells"] if c["format"]}
                                        - set(data["formats"]))]  # tflite-mixed: on a miss
    rows = []
    for case in data["cases"]:
        mine = [c for c in data["cells"] if c["case"] == case["case"]]
        members = len({(c["recipe"], c["options"]) for c in mine})
        line = [case["case"], f"{members}"]
        for fmt in formats:
            found = [c for c in mine if c["format"] == fmt]
            ok = sum(c["status"] == "ok" for c in found)
            line.append("-" if not found else "all" if ok == len(found) else
                        f"{ok} of {len(found)}")
        rows.append(line)
    # the misses, grouped: one line per format, status and reason, with where it happened
    groups: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for c in data["cells"]:
        if c["status"] == "ok":
            continue
        reason = (c["reason"] or "").split("cannot hold this model: ")[-1]
        reason = re.sub(r"^\S+: ", "", reason)
        if c["status"] == "converter failed":  # where it crashed, and the upstream issue
            upstream = re.search(r"[\w-]+/[\w-]+#\d+", reason)
            reason = reason.split(", in a worker process")[0] + (
                f"; {upstream.group(0)}" if upstream else "")
        if c["status"] == "below floor":
            reason = ""
        elif c["status"] == "compression failed":
            reason = reason.split(":")[0]
        where = c["recipe"] + (f" {100 * c['agreement']:.1f}%" if c["status"] == "below floor"
                               and c["agreement"] is not None else "")
        fmt = "every format" if c["status"] == "compression failed" else c["format"]
        places = groups.setdefault((fmt, c["status"], reason[:140]), {})
        places.setdefault(c["case"], [])
        if where not in places[c["case"]]:
            places[c["case"]].append(where)
    notes = [f"- `{fmt}` {status}" + (f" ({reason})" if reason else "") + ": " + "; ".join(
        f"{case} ({', '.join(recipes)})" for case, recipes in places.items())
        for (fmt, status, reason), places in sorted(groups.items())]
    cost = data["isolation"]
    died = ", ".join(data["died"]) or "none"
    recipes = ", ".join(r["recipe"] + "".join(f" {k}={v}" for k, v in r.items()
                                              if k not in ("recipe", "epochs"))
                        for r in data["recipes"]) or "none"
    text = (table(["case", "runs", *[f"`{f}`" for f in formats]], rows)
            + f"\n\nEach case's run and its children (recipes: {recipes}; "
            f"{data['recipes'][0]['epochs'] if data['recipes'] else 0} epochs each) in every "
            "format: how many passed their floor. Processes that died: "
            f"{died}. Where a format missed, and why (case and recipe; the agreement measured "
            "for a file below its floor):\n\n" + "\n".join(notes))
    if cost:
        text += (f"\n\nWhat the worker process costs (`{', '.join(cost['formats'])}` of the "
                 f"digits CNN, fresh processes, median of {cost['repeats']}): the first export "
                 f"{cost['isolated']['first_export_s']} s against "
                 f"{cost['in_process']['first_export_s']} s with the converters in the process "
                 f"({cost['first_export_ratio']}x: TensorFlow starts in the worker), the next "
                 f"{cost['isolated']['second_export_s']} s against "
                 f"{cost['in_process']['second_export_s']} s ({cost['second_export_ratio']}x).")
    if data.get("rerun"):
        text += (f"\n\n{', '.join(data['rerun']['cases'])}: measured again after a fix (its "
                 "first run's reopening process died on a runtime error that export did not "
                 "catch) and merged into this run (`--merge-into`).")
    return text + machine_line(data)


@renderer("zoo")
def render_zoo(data: dict) -> str:
    rows, refused = [], []
    for r in data["rows"]:
        if "reason" in r:
            refused.append(f"{r['model']}: {r['reason']}")
            continue
        int8 = (f"{100 * r['int8_agreement']:.1f}%" if r.get("int8_agreement") is not None
                else "-") + ("" if "int8_kb" in r else " (below its floor)")
        missed = re.search(r"with the (\d+) worst of its (\d+).*?agreement is ([\d.]+)",
                           r.get("mixed_error", ""))
        mixed = (f"{100 * r['mixed_agreement']:.1f}%, {r['mixed_kb']:,.0f} kB, "
                 f"{r['mixed_float_layers']} layers in float" if "mixed_agreement" in r
                 else f"refused: {100 * float(missed.group(3)):.1f}% on validation with "
                      f"{missed.group(1)} of {missed.group(2)} layers in float" if missed
                 else "")
        rows.append([r["model"], r["input"], f"{r['params']:,}", f"{r['import_s']:.1f}",
                     f"{r['max_abs_difference']:.1g}", num(r["keras_test_accuracy"]),
                     f"{100 * r['float32_agreement']:.1f}%", int8,
                     f"{r['int8_kb']:,.0f}" if "int8_kb" in r else "-", mixed])
    text = table(["model", "input", "params", "import s", "rebuild max diff",
                  "Keras test acc", "float32 = Keras", "int8 = Keras", "int8 kB",
                  "tflite-mixed"], rows)
    if refused:
        text += "\n\nNot imported: " + "; ".join(refused) + "."
    if data.get("real_sizes"):
        text += ("\n\nReal sizes (untrained: times and sizes, not accuracy), each step timed:"
                 "\n\n" + table(
                     ["model", "input", "params", "import s", "export s (float32 + int8)",
                      "benchmark s", "float32 kB", "int8 kB", "float32 p50 ms", "int8 p50 ms"],
                     [[r["model"], r["input"], f"{r['params']:,}", r["import_s"], r["export_s"],
                       r["benchmark_s"], f"{r.get('float32_kb', 0):,}",
                       f"{r.get('int8_kb', 0):,}", ms(r.get("float32_p50_ms")),
                       ms(r.get("int8_p50_ms"))] for r in data["real_sizes"]])
                 + f"\n\nThe bench process's peak resident memory over the whole run (every "
                 f"catalogue model, then these): {max(r['peak_rss_mb'] for r in data['real_sizes']):,}"
                 " MB.")
    collapsed = [r["model"] for r in data["rows"] if r.get("collapsed")]
    text += (f"\n\n{data['epochs']} epochs each, Adam 1e-3." + (
        f" {', '.join(collapsed)} collapsed to one class in that budget: the import warned, and "
        "the int8 export named the model as the cause of its agreement." if collapsed else ""))
    return text + machine_line(data)


@renderer("transfer")
def render_transfer(data: dict) -> str:
    cells: dict[tuple, dict] = {}
    for r in data["rows"]:
        cells.setdefault((r["fraction"], r["labels"]), {})[r["freeze"]] = r
    rows = []
    for (fraction, labels), by_freeze in cells.items():
        any_row = next(iter(by_freeze.values()))
        scratch = f"{any_row['scratch']:.4f} ± {any_row['scratch_sd']:.3f}"
        rows.append([f"{labels} ({100 * fraction:.0f}%)",
                     *(f"{by_freeze[f]['fine_tuned']:.4f} ± {by_freeze[f]['fine_tuned_sd']:.3f}"
                       if f in by_freeze else "-" for f in ("encoder", "none")), scratch])
    return (f"CNN source on {data['dataset']} classes {data['source_classes']} (test accuracy "
            f"{data['source_accuracy']:.4f}), then each labelled fraction of classes "
            f"{data['target_classes']}, {data['epochs']} epochs, mean ± spread over "
            f"{data['seeds']} seeds:\n\n"
            + table(["labels", "frozen convolutions", "everything trained", "from scratch"], rows)
            + f"\n\nTransfer beats scratch in {data['transfer_wins']} of {len(data['rows'])} "
            "settings." + machine_line(data))


@renderer("cli")
def render_cli(data: dict) -> str:
    rows = [[f"`{r['command']}`", f"{r['median_s']:.2f} s", f"{r['min_s']:.2f} s",
             "yes" if r["imports_tensorflow"] else "no", f"{r['peak_rss_mb']:.0f} MB"]
            for r in data["rows"]]
    return (table(["command (a fresh process)", f"median of {data['repeats']}", "fastest",
                   "imports TensorFlow", "peak memory"], rows) +
            f"\n\nTarget: `kerasmodels archs` under {data['target_s']:g} s without TensorFlow: "
            f"{'met' if data['archs_under_target'] else 'NOT met'}." + machine_line(data))


@renderer("dashboard")
def render_dashboard(data: dict) -> str:
    return (table(["measure", "this machine", "target"], [
        ["cold start: process launch to the Models page rendered, run table included",
         f"{data['first_page_s']} s", f"< {data['first_page_target_s']:g} s"],
        [f"Playground: click to every variant's prediction shown (median / p90 of "
         f"{data['clicks']})", f"{data['prediction_ms_median']} / {data['prediction_ms_p90']} ms",
         f"< {data['prediction_target_ms']:g} ms"]]) + machine_line(data))


LOAD_CASES = [("dashboard_load", "CNN + distilled student (8 variants), reload after render"),
              ("dashboard_load_sweep", "the sweep's family (~25 variants), reload after render"),
              ("dashboard_load_sweep_churn",
               "the sweep's family, reload at the first byte (`--churn`)"),
              ("dashboard_load_sweep_interact", "the sweep's family, 5 Playground pages "
               "clicking \"Random test example\" without pause (`--interact`)")]


@renderer("dashboard_load")
def render_dashboard_load(data: dict) -> str:
    rows = []
    for name, label in LOAD_CASES:
        case = json.loads((ROOT / "bench-results" / f"{name}.json").read_text())
        during, after = case["health_during"], case["health_after"]
        rows.append([label, f"{during['p50_ms']} / {during['p90_ms']} / {during['max_ms']:,} ms",
                     f"{after['p50_ms']} / {after['p90_ms']} ms",
                     f"{during['failures']} during, {after['failures']} after",
                     sum(case["page_loads"].values()), case["errors"],
                     f"{100 * case['server_cpu_after']:.0f}%", case["close_wait_after"],
                     f"{case['sigterm_stop_s']:.1f} s",
                     f"{case['server_rss_mb_before']:.0f} / {case['server_rss_mb_after']:,.0f}"])
    return (table(["family served, clients", "health during: p50 / p90 / max",
                   "after: p50 / p90", "health failures", "page loads / predictions",
                   "page errors", "server CPU after (one core)", "sockets left in CLOSE_WAIT",
                   "SIGTERM to exit", "server MB before / after"], rows) + machine_line(data))


def results(name: str) -> dict:
    return json.loads((ROOT / "bench-results" / f"{name}.json").read_text())


@renderer("headline", from_code=True)
def render_headline(_: dict) -> str:
    """The README's few figures, each from the bench whose full table is in the docs."""
    sweep, micro, kws = results("sweep"), results("micro"), results("kws")
    dashboard, zoo = results("dashboard"), results("zoo")
    pick, tiny = sweep["pick"], micro["frontier"]["pick"]
    imported = [row["model"] for row in zoo["rows"] if row.get("max_abs_difference") is not None]
    lines = [
        f"- **Phone**: `kerasmodels sweep` on the digits CNN picks {pick['recipe']} in "
        f"{pick['format']}, **{pick['x_smaller']}x smaller**, test {pick['test_accuracy']:.4f} "
        f"against the parent's {sweep['parent_accuracy']:.4f}, in {sweep['wall_s']} s "
        "(`scripts/bench_sweep.py`).",
        f"- **Microcontroller**: its micro sweep picks {tiny['recipe']} ({tiny['options']}): "
        f"**{kilobytes(tiny['flash_bytes'])} kB flash, {kilobytes(tiny['arena_bytes'])} kB "
        f"arena** measured with TFLM, test {tiny['test_score']:.4f} (`scripts/bench_micro.py`).",
        f"- **Keyword spotting**: MLPerf Tiny's DS-CNN on spoken words, test "
        f"{kws['keras_test_accuracy']:.4f}, int8 {kws['int8_minus_keras_pp']:+.2f} pp, "
        f"{kilobytes(kws['micro_flash_bytes'])} kB flash and "
        f"{kilobytes(kws['micro_arena_bytes'])} kB arena on TFLM (`scripts/bench_kws.py`).",
        f"- **Your model**: {len(imported)} of the {len(zoo['rows'])} keras.applications models "
        f"tried ({', '.join(imported)}) saved as `.keras` files by Keras 3, imported as runs "
        "and exported to float32 and int8 TFLite, each file checked against its model "
        "(`scripts/bench_zoo.py`).",
        f"- **Dashboard**: first page in {dashboard['first_page_s']:.2f} s, a Playground "
        f"prediction from every variant in {dashboard['prediction_ms_median']:.0f} ms "
        "(median; `scripts/bench_dashboard.py`).",
    ]
    return "\n".join(lines) + machine_line(sweep)


def render(text: str) -> str:
    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in RENDERERS:
            raise SystemExit(f"a figures block {name!r} has no renderer")
        source = SOURCES.get(name, name)
        data = {} if name in FROM_CODE else results(source)
        return f"{match.group(1)}{RENDERERS[name](data)}\n{match.group(4)}"

    return MARKER.sub(replace, text)


def documents() -> list[Path]:
    """The files that hold figure blocks: the README and every page of the docs site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a file differs from what the JSON files give")
    args = parser.parse_args(argv)
    seen: dict[str, Path] = {}
    stale = []
    for path in documents():
        current = path.read_text()
        for match in MARKER.finditer(current):
            if match["name"] in seen:
                raise SystemExit(f"figures block {match['name']!r} is in both "
                                 f"{seen[match['name']].relative_to(ROOT)} and "
                                 f"{path.relative_to(ROOT)}: keep it in one")
            seen[match["name"]] = path
        wanted = render(current)
        if wanted != current:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(wanted)
    if args.check:
        if stale:
            print(f"out of date: {', '.join(map(str, stale))}: run python "
                  "scripts/readme_figures.py")
            return 1
        print(f"{len(seen)} figure blocks match bench-results/")
        return 0
    print(f"rewrote {', '.join(map(str, stale)) or 'nothing'} ({len(seen)} figure blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
