"""Train: pick an architecture, data and a training strategy; watch it learn."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import common
import kerasmodels as km
from kerasmodels.optimizers import optimizer_names
from kerasmodels.schedules import SCHEDULES

st.title("Train")
BUILTIN = km.dataset_names()
UPLOAD_CSV, UPLOAD_ZIP = "Upload a CSV…", "Upload a zip of class folders…"

left, right = st.columns(2)
with left:
    arch = st.selectbox("Architecture", km.architecture_names(), index=km.architecture_names()
                        .index("mlp"), help="`kerasmodels archs` lists them with their "
                        "hyperparameters")
    st.caption(km.get_architecture(arch).description)
    source = st.selectbox("Dataset", [*BUILTIN, UPLOAD_CSV, UPLOAD_ZIP])
    dataset_options: dict = {}
    dataset = source
    if source == UPLOAD_CSV:
        uploaded = st.file_uploader("CSV file (numeric feature columns and a target column)",
                                    type=["csv"])
        target = st.text_input("Target column", value="label")
        dataset = None
        if uploaded is not None:
            dataset = f"csv:{common.upload_path(uploaded)}"
            dataset_options = {"target": target}
    elif source == UPLOAD_ZIP:
        uploaded = st.file_uploader("Zip of one sub-folder per class", type=["zip"])
        size = st.number_input("Image size (pixels per side)", 8, 128, 32)
        grayscale = st.checkbox("Grayscale")
        dataset = None
        if uploaded is not None:
            dataset = f"images:{common.upload_path(uploaded)}"
            dataset_options = {"image_size": [int(size), int(size)],
                               "color": "grayscale" if grayscale else "rgb"}
    epochs = st.number_input("Epochs", min_value=1, max_value=500,
                             value=int(km.get_architecture(arch).training.get("epochs", 10)))
with right:
    optimizer = st.selectbox("Optimizer", optimizer_names(),
                             index=optimizer_names().index("adam"))
    strategy = st.radio("Strategy", ["minibatch", "batch", "sgd"], horizontal=True,
                        help="batch: full-batch gradient descent (one step per epoch); sgd: one "
                             "example per step; minibatch: batch-size examples per step")
    batch_size = st.number_input("Batch size", min_value=1, value=32,
                                 disabled=strategy != "minibatch")
    learning_rate = st.number_input(
        "Learning rate", min_value=0.0, format="%.5f",
        value=float(km.get_architecture(arch).training.get("learning_rate", 1e-3)))
    schedule = st.selectbox("Learning-rate schedule", ["none", *SCHEDULES])
    regularizer = st.selectbox("Regularizer", ["none", "l1", "l2", "l1l2"])
    strength = st.number_input("Regularization strength", min_value=0.0, value=1e-4,
                               format="%.5f", disabled=regularizer == "none")

if st.button("Train", type="primary", disabled=dataset is None):
    bar = st.progress(0.0, text="starting: loading data and building the model")
    charts = st.columns(2)
    loss_chart, metric_chart = charts[0].empty(), charts[1].empty()
    seen: list[dict] = []

    def on_epoch_end(epoch: int, logs: dict) -> None:
        seen.append({"epoch": epoch + 1, **logs})
        frame = pd.DataFrame(seen).set_index("epoch")
        bar.progress(min(1.0, (epoch + 1) / epochs),
                     text=f"epoch {epoch + 1}/{epochs}: loss {logs.get('loss', float('nan')):.4f}")
        loss_chart.line_chart(frame[[c for c in ("loss", "val_loss") if c in frame]])
        metric = "accuracy" if "accuracy" in frame else "mae"
        metric_chart.line_chart(frame[[c for c in (metric, f"val_{metric}") if c in frame]])

    try:
        run = km.train(arch, dataset, epochs=int(epochs), strategy=strategy,
                       batch_size=int(batch_size) if strategy == "minibatch" else None,
                       optimizer=optimizer, learning_rate=float(learning_rate),
                       schedule=None if schedule == "none" else schedule,
                       regularizer=None if regularizer == "none" else regularizer,
                       reg_strength=float(strength) if regularizer != "none" else 1e-4,
                       out_dir=common.runs_dir(), verbose=0, dataset_options=dataset_options,
                       on_epoch_end=on_epoch_end)
    except Exception as exc:
        bar.empty()
        common.show_error(exc)
    else:
        bar.progress(1.0, text="done")
        test = ", ".join(f"{k} {v:.4f}" for k, v in run.metrics["test"].items())
        st.success(f"Saved **{run.id}** (test: {test})")
        st.session_state["selected_run"] = run.id
        st.page_link("pages/models.py", label="Open it in Models", icon=":material/table_view:")
