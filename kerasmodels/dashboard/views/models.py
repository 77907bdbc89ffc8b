"""Models: every run as a table; one run's hyperparameters, curves, weights, layers, files."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import kerasmodels as km
from kerasmodels.dashboard import common
from kerasmodels.layout import MANIFEST
from kerasmodels.report import kilobytes
from kerasmodels.tasks import score_of

st.title("Models")
rows, broken = common.table()
if broken:
    with st.expander(f"{len(broken)} broken run(s) in {common.runs_dir()}", expanded=True):
        for name, reason in broken:
            st.error(f"**{name}** is broken: {reason}")
if not rows:
    st.info(f"No runs in `{common.runs_dir()}` yet: train one on the Train page, or run "
            "`kerasmodels demo` to build the demo models.")
    st.stop()

frame = pd.DataFrame(rows)
left, middle, right = st.columns([2, 1, 1])
text = left.text_input("Filter", placeholder="part of a run id, e.g. prune or transformer")
archs = middle.multiselect("Architecture", sorted(frame["arch"].unique()))
datasets = right.multiselect("Dataset", sorted(frame["dataset"].unique()))
shown = frame
if text:
    shown = shown[shown["run"].str.contains(text, case=False, regex=False)]
if archs:
    shown = shown[shown["arch"].isin(archs)]
if datasets:
    shown = shown[shown["dataset"].isin(datasets)]
st.dataframe(shown, hide_index=True, width="stretch",
             column_config={"test_acc": st.column_config.NumberColumn(format="%.4f"),
                            "kB": st.column_config.NumberColumn("model kB")})
st.caption(f"{len(shown)} of {len(frame)} runs")

run_id = common.pick_run("Run", key="models_run",
                         where=lambda r: r["run"] in set(shown["run"]) or not len(shown))
if run_id is None:
    st.stop()
run = common.load_run(run_id)
manifest = run.manifest
st.subheader(run.id)
metrics = run.metrics.get("test", {})
cols = st.columns(4)
shown_metric = next((k for k in (score_of(run.record.dataset.task), "token_accuracy", "loss")
                     if k in metrics), None)
cols[0].metric(f"test {shown_metric or 'metric'}".replace("_", " "),
               f"{metrics[shown_metric]:.4f}" if shown_metric else "-")
cols[1].metric("parameters", f"{run.record.arch.params or 0:,}")
cols[2].metric("epochs", run.record.training.get("epochs_run", "-"))
cols[3].metric("parent", run.parent or "-", run.record.recipe)

overview, curves, weights, layers, files = st.tabs(
    ["Hyperparameters", "Training curves", "Weight statistics", "Architecture", "Downloads"])
with overview:
    st.json({"arch": manifest["arch"], "training": manifest.get("training", {}),
             "dataset": {k: v for k, v in manifest["dataset"].items() if k != "preprocessing"},
             "compression": manifest.get("compression")}, expanded=1)
try:
    history = run.history
except km.KerasModelsError as exc:
    common.show_error(exc)
    history = {}
with curves:
    if not history.get("loss"):
        st.info("This run has no per-epoch history (a compressed run keeps its fine-tuning's).")
    else:
        epochs = list(range(1, len(history["loss"]) + 1))

        def curve(keys):
            present = {k: history[k] for k in keys if len(history.get(k, [])) == len(epochs)}
            return pd.DataFrame(present, index=pd.Index(epochs, name="epoch"))

        c1, c2, c3 = st.columns(3)
        c1.caption("loss")
        c1.line_chart(curve(["loss", "val_loss"]))
        metric = "accuracy" if "accuracy" in history else "mae"
        c2.caption(metric)
        c2.line_chart(curve([metric, f"val_{metric}"]))
        c3.caption("learning rate")
        c3.line_chart(curve(["learning_rate"]))
with weights:
    stats = {k: v for k, v in history.items() if k.startswith("weights/")}
    if not stats:
        st.info("No weight statistics recorded for this run.")
    else:
        kind = st.radio("Statistic", ["l2", "l1", "near_zero"], horizontal=True,
                        help="near_zero: share of weights with |w| < 1e-3")
        chosen = {k.split("/")[1]: v for k, v in stats.items() if k.endswith(f"/{kind}")}
        st.line_chart(pd.DataFrame(chosen, index=pd.Index(
            range(1, len(next(iter(chosen.values()))) + 1), name="epoch")))
with layers:
    try:
        st.code(common.model_summary(str(run.path), common.run_stamp(run.path)), language=None)
    except Exception as exc:  # a run whose model no longer loads
        common.show_error(exc)
with files:
    exported = run.exported_files()
    if not exported:
        st.info("Not exported yet: use the Compress & export page or `kerasmodels export RUN`.")
    for path in exported:
        st.download_button(f"{path.name} ({kilobytes(path.stat().st_size)} kB)",
                           data=path.read_bytes(), file_name=f"{run.id}-{path.name}",
                           key=f"download-{path.name}")
    st.download_button(MANIFEST, data=json.dumps(manifest, indent=2),
                       file_name=f"{run.id}-manifest.json", key="download-manifest")
