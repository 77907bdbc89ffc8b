"""Compress & export: make smaller children of a run and export them for devices."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kerasmodels as km
from kerasmodels.compression.recipes import recipe_names
from kerasmodels.compression.sweep import DEFAULT_BUDGET
from kerasmodels.dashboard import common
from kerasmodels.errors import ExportError
from kerasmodels.report import kilobytes
from kerasmodels.tasks import score_of

st.title("Compress & export")
run_id = common.pick_family("Run to compress", key="compress_run")
recipes = st.multiselect("Recipes", recipe_names(),
                         help="each recipe makes a child run from a copy; the parent is never "
                              "changed. None: export the run itself")
with st.expander("What the chosen recipes take (`km.compress(run, recipe, option=value)`)"):
    for recipe in recipes:
        described = []
        for name, option in km.recipe_options(recipe).items():
            default = ("the architecture's" if option["default"] is None
                       else repr(option["default"]))
            described.append(f"`{name}` (default {default}): {option['help']}")
        st.markdown(f"**{recipe}**: " + "; ".join(described))
table = {f.name: f for f in km.export_formats()}
formats = st.multiselect("Export formats", list(table),
                         default=[f.name for f in table.values() if f.quick],
                         format_func=lambda name: f"{name} ({table[name].device})",
                         help="; ".join(f"{f.name}: {f.note}" for f in table.values() if f.note))
whole_sweep = st.checkbox("Run the whole sweep instead (every recipe × every format of the "
                          "target, picks the smallest model within the accuracy budget)")
budget = st.number_input(
    "Accuracy budget (points below the parent)", min_value=0.0, max_value=99.0, value=None,
    step=0.25, disabled=not whole_sweep, key="sweep_budget",
    placeholder=f"the sweep's: {DEFAULT_BUDGET * 100:g} points, or one validation example "
                "when that is more")
targets = km.sweep_targets()
target = st.radio("Sweep target", list(targets), horizontal=True, disabled=not whole_sweep,
                  format_func=lambda name: f"{name}: {targets[name].device}")
board_rows = {b.name: b for b in km.board_classes()}
board = st.selectbox("Board class the pick must fit (micro)", [None, *board_rows],
                     disabled=not whole_sweep or target != "micro",
                     format_func=lambda name: "any" if name is None else
                     f"{name} ({board_rows[name].examples})")

if st.button("Start", type="primary", disabled=not (recipes or formats or whole_sweep)):
    try:
        if whole_sweep:
            with st.spinner("sweeping: compress, export, time every variant (minutes)"):
                result = km.sweep(common.runs_dir() / run_id, accuracy_budget=None if budget is None else budget / 100,
                                  target=target, board=board if target == "micro" else None,
                                  progress=False)
            pick = result["pick"]
            than = ("in flash than the parent's" if target == "micro"
                    else "than the float32 TFLite")
            fits = (f"; fits {', '.join(pick['boards']) or 'no board class'}"
                    if pick and target == "micro" else "")
            st.success(f"Pick: **{pick['recipe']} {pick['format']}**, {pick['x_smaller']}x "
                       f"smaller {than}{fits}, test {result['metric']} "
                       f"{pick['test_score']:.4f}"
                       if pick else "No variant is within the budget"
                       + (f" and fits {board}." if board and target == "micro" else "."))
            st.dataframe(pd.DataFrame(result["rows"]), hide_index=True)
        else:
            steps = len(recipes) * (1 + bool(formats)) + bool(formats)
            bar = st.progress(0.0)
            done, rows = 0, []
            parent = common.load_run(run_id)
            members = [parent]
            for recipe in recipes:
                bar.progress(done / steps, text=f"{recipe}: training a compressed copy")
                child = km.compress(parent, recipe)
                members.append(child)
                done += 1
            for member in members if formats else []:
                bar.progress(done / steps, text=f"exporting {member.id}")
                try:
                    artifacts = km.export(member, formats)
                except ExportError as exc:  # the formats that passed are published
                    common.show_error(exc)
                    artifacts = exc.artifacts
                for artifact in artifacts:
                    rows.append({"run": member.id, "recipe": member.record.recipe
                                 or "base", "format": artifact.format,
                                 "kB": kilobytes(artifact.bytes),
                                 "gzip kB": kilobytes(artifact.gzip_bytes),
                                 **{k: artifact.parity.get(k) for k in
                                    ("accuracy", "auc", "top1_agreement", "max_abs_diff")
                                    if k in artifact.parity},
                                 "oldest runtime": (artifact.runtime or {}).get(
                                     "min_runtime_version")})
                done += 1
            bar.progress(1.0, text="done")
            if recipes:
                st.success(f"Made {len(members) - 1} child run(s) of {run_id}.")
            for child in members[1:]:
                report = child.record.compression
                metric = score_of(child.record.dataset.task) or "loss"
                st.write(f"**{child.id}**: test {metric} "
                         f"{child.metrics['test'].get(metric, float('nan')):.4f}" +
                         (f"; skipped: {', '.join(report['skipped_layers'])}"
                          if report.get("skipped_layers") else ""))
            if rows:
                st.success(f"Exported {len(rows)} file(s), each checked against its Keras "
                           "model.")
                st.dataframe(pd.DataFrame(rows), hide_index=True)
        st.session_state["selected_run"] = run_id
        st.page_link("views/compare.py", label="Compare the family", icon=":material/monitoring:")
    except Exception as exc:
        common.show_error(exc)
