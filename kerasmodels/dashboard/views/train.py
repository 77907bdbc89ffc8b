"""Train: pick an architecture, data and a training strategy; watch it learn."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kerasmodels as km
from kerasmodels.architectures import QUICK_ARCH
from kerasmodels.dashboard import common
from kerasmodels.options import TRAINING

st.title("Train")
BUILTIN = km.dataset_names()
UPLOAD_CSV, UPLOAD_ZIP = "Upload a CSV…", "Upload a zip of class folders…"

left, right = st.columns(2)
with left:
    arch = st.selectbox("Architecture", km.architecture_names(), index=km.architecture_names()
                        .index(QUICK_ARCH), help="`kerasmodels archs` lists them with their "
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
    defaults = {name: option.default for name, option in TRAINING.items()}
    defaults.update(km.get_architecture(arch).training)  # the architecture's own first

    def choice(widget, label: str, name: str, **kwargs):
        """A widget over a declared option's choices, starting on its default."""
        options = list(TRAINING[name].options)
        return widget(label, options, index=options.index(defaults[name]),
                      help=TRAINING[name].help, **kwargs)

    def number(label: str, name: str, **kwargs):
        option = TRAINING[name]
        return st.number_input(label, min_value=option.kind(option.low or 0),
                               max_value=None if option.high is None else option.kind(option.high),
                               value=option.kind(defaults[name]), help=option.help, **kwargs)

    epochs = number("Epochs", "epochs")
with right:
    optimizer = choice(st.selectbox, "Optimizer", "optimizer")
    strategy = choice(st.radio, "Strategy", "strategy", horizontal=True)
    batch_size = number("Batch size", "batch_size", disabled=strategy != "minibatch")
    learning_rate = number("Learning rate", "learning_rate", format="%.5f")
    schedule = choice(st.selectbox, "Learning-rate schedule", "schedule")
    regularizer = choice(st.selectbox, "Regularizer", "regularizer")
    strength = number("Regularization strength", "reg_strength", format="%.5f",
                      disabled=regularizer == "none")

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
                       schedule=schedule, regularizer=regularizer,
                       reg_strength=float(strength),
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
        st.page_link("views/models.py", label="Open it in Models", icon=":material/table_view:")
