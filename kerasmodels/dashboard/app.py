"""kerasmodels dashboard: train, compress, compare and try every model in the browser.

Start it with ``kerasmodels dashboard [--runs-dir DIR] [--port N]`` (or, as Streamlit runs
an app, ``streamlit run apps/dashboard.py`` from a checkout). Every page is a thin view
over the public API (``import kerasmodels as km``); the runs directory is the only state.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="kerasmodels", page_icon=":material/memory:", layout="wide")

# by absolute path: `streamlit run apps/dashboard.py` runs this file from another folder
VIEWS = Path(__file__).resolve().parent / "views"
PAGES = [
    st.Page(VIEWS / "models.py", title="Models", icon=":material/table_view:", default=True),
    st.Page(VIEWS / "train.py", title="Train", icon=":material/model_training:"),
    st.Page(VIEWS / "importing.py", title="Import", icon=":material/upload_file:"),
    st.Page(VIEWS / "lab.py", title="Optimizer lab", icon=":material/science:"),
    st.Page(VIEWS / "compress.py", title="Compress & export", icon=":material/compress:"),
    st.Page(VIEWS / "compare.py", title="Compare", icon=":material/monitoring:"),
    st.Page(VIEWS / "playground.py", title="Playground", icon=":material/draw:"),
]

from kerasmodels.dashboard import common  # noqa: E402

common.keep_tensorflow_state()
with st.sidebar:
    st.caption(f"runs directory: `{common.runs_dir()}`")
try:
    st.navigation(PAGES).run()
finally:  # st.stop() ends a page by raising
    common.collect_garbage()
