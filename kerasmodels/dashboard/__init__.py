"""The Streamlit dashboard, shipped in the package so that a wheel install serves it.

``kerasmodels dashboard`` runs ``APP`` with ``streamlit run`` (``serve.py``). The pages live in
``views/`` (a ``pages/`` folder would also be served by Streamlit on its own, without the
navigation and the page settings); they are thin views over the public API, and ``common``
holds what they share.

>>> from kerasmodels.dashboard import APP
>>> APP.name
'app.py'
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
PORT = 8501  # Streamlit's own default
LOOPBACK = "127.0.0.1"  # the dashboard listens on this machine alone unless told otherwise
RUNS_DIR_ENV = "KERASMODELS_RUNS_DIR"  # the runs folder the app reads (set by serve.py)
