"""The kerasmodels dashboard as Streamlit runs an app: ``streamlit run apps/dashboard.py``.

A thin entry for Streamlit's own command and for hosts that deploy an app from a script in a
repository: it runs the dashboard that ships in the package (``kerasmodels/dashboard/app.py``,
what ``kerasmodels dashboard`` serves). The runs folder is ``saved_models/`` under the folder
Streamlit was started in, or ``KERASMODELS_RUNS_DIR``.
"""

import runpy

from kerasmodels.dashboard import APP

runpy.run_path(str(APP), run_name="__main__")
