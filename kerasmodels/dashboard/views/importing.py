"""Import: your own model (a .keras or .h5 file, or a zipped SavedModel) becomes a run,
checked as ``km.import_model`` checks it: a file that would run code is refused unopened."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

import kerasmodels as km
from kerasmodels.dashboard import common

st.title("Import your model")
st.caption("Any Keras model (tf_keras or Keras 3; Sequential, functional, the keras.applications "
           "catalogue) or a SavedModel becomes a run: it exports, compresses, benchmarks and "
           "plays like the models trained here. A file that would run code (a Lambda, a class "
           "from outside Keras) is refused before it is opened.")
uploaded = st.file_uploader("A .keras or .h5 file, or a .zip of a SavedModel folder",
                            type=["keras", "h5", "zip"])
dataset = st.selectbox("Evaluate it on", km.dataset_names(), key="import_dataset",
                       help="the model's input must fit the dataset's examples and its output "
                            "the dataset's classes")
options: dict = {}
if dataset == "digits":
    c1, c2 = st.columns(2)
    size = int(c1.number_input("Digits resized to (pixels; 8 is as they are)", 8, 512, 8))
    channels = int(c2.radio("Channels", [1, 3], horizontal=True))
    if size != 8:
        options["image_size"] = (size, size)
    if channels != 1:
        options["channels"] = channels
name = st.text_input("Run name (optional: the model's own name)", key="import_name")

if st.button("Import", type="primary", disabled=uploaded is None):
    try:
        with tempfile.TemporaryDirectory(prefix="kerasmodels-upload-") as private:
            path = common.private_upload(uploaded, Path(private))
            with st.spinner("reading, checking and evaluating the model"):
                run = km.import_model(path, dataset, dataset_options=options or None,
                                      out_dir=common.runs_dir(), name=name or None)
    except Exception as exc:
        common.show_error(exc)
    else:
        source = run.record.source
        st.success(f"Imported **{run.id}**: test "
                   + ", ".join(f"{k} {v:.4f}" for k, v in run.metrics["test"].items())
                   + (f"; rebuilt from Keras 3 (largest difference "
                      f"{source['max_abs_difference']:.2g})"
                      if "max_abs_difference" in source else ""))
        if source.get("collapsed"):
            st.warning(source["collapsed"])
        st.session_state["selected_run"] = run.id
        st.page_link("views/compress.py", label="Compress and export it",
                     icon=":material/compress:")
