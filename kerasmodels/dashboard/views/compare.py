"""Compare: every variant of a family on accuracy, size and latency."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import kerasmodels as km
from kerasmodels.dashboard import common

st.title("Compare")
run_id = common.pick_family(key="compare_run")
root = common.load_run(run_id)
calls = st.number_input("Timed calls per variant", 10, 1000, 50)
if st.button("Benchmark the family now", help="exports what is missing, then times every "
                                              "variant in every runtime"):
    try:
        with st.spinner("exporting and timing every variant"):
            km.benchmark(root, calls=int(calls), progress=False)
    except Exception as exc:
        common.show_error(exc)
compared = km.compare_family(root)
swept = compared["sweep"]
if swept and not swept["complete"] and swept.get("variants"):
    st.progress(swept["variants_done"] / swept["variants"],
                text=f"Sweep in progress: {swept['variants_done']} of {swept['variants']} "
                     f"variants measured (study {swept['study']} in {swept['storage']}); the "
                     "rows so far are below. Reload the page to follow it; a sweep that was "
                     f"stopped finishes with `kerasmodels sweep {run_id}`.")
if not compared["rows"]:
    st.info("No benchmark for this family yet: press the button above, or run "
            f"`kerasmodels benchmark {run_id}`.")
    st.stop()
table = pd.DataFrame(compared["rows"])
metric, pick = compared["metric"], compared["pick"]
ranked = table[table[metric].notna()] if metric in table else table  # what was measured
if pick:
    st.success(f"Sweep pick: **{pick['recipe']} {pick['format']}**, {pick['x_smaller']}x smaller "
               f"than the parent's float32 TFLite, test {metric} {pick['test_score']:.4f} "
               f"(chosen on validation {pick['val_score']:.4f})")
if not compared["benchmarked"]:
    st.info("Only the sweep's artifacts so far: benchmark the family to time every runtime.")
shown = ["label", "runtime", "threads", "params", metric, "val_diff_95", "gzip_bytes",
         "flash_bytes",
         "ram_bytes", "sparsity", "p50_ms", "p90_ms", "error", "run"]
st.dataframe(table, hide_index=True, width="stretch",
             column_order=[c for c in shown if c in table and (c != "error" or
                                                               table[c].notna().any())],
             column_config={"label": st.column_config.TextColumn("variant · format"),
                            "gzip_bytes": st.column_config.NumberColumn("gzip bytes"),
                            "val_diff_95": st.column_config.TextColumn(
                                "val. difference [95%]", help="the sweep's paired difference "
                                "from the parent on the validation split, with its bootstrap "
                                "interval: the pick's lower end is within the budget"),
                            "flash_bytes": st.column_config.NumberColumn(
                                "flash bytes", help="what the device stores: the model file"),
                            "ram_bytes": st.column_config.NumberColumn(
                                "RAM bytes", help="TFLM: the measured tensor arena; LiteRT and "
                                "ONNX Runtime: the peak memory a fresh process adds while it "
                                "loads the file and runs one example"),
                            "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.3f"),
                            "p90_ms": st.column_config.NumberColumn("p90 ms", format="%.3f"),
                            "error": st.column_config.TextColumn(
                                "not measured", help="why a variant has no figures: its export "
                                "failed or its file does not load")})
st.caption("Click a column header to sort; scroll right for the run ids.")

c1, c2 = st.columns(2)
with c1:
    st.subheader(f"{metric} against size")
    points = alt.Chart(ranked).mark_point(filled=True, size=120).encode(
        x=alt.X("gzip_bytes:Q", title="gzip bytes", scale=alt.Scale(type="log")),
        y=alt.Y(f"{metric}:Q", scale=alt.Scale(zero=False)),
        color=alt.Color("variant:N", legend=alt.Legend(orient="bottom", labelLimit=0,
                                                       columns=3)),
        shape=alt.Shape("format:N", legend=alt.Legend(orient="bottom", labelLimit=0, columns=3)),
        tooltip=["run", "variant", "format", "runtime", metric, "gzip_bytes", "p50_ms"])
    front = alt.Chart(ranked[ranked["pareto"]].sort_values("gzip_bytes")).mark_line(
        color="gray", strokeDash=[4, 4]).encode(x="gzip_bytes:Q", y=f"{metric}:Q")
    layers = [front, points]
    if pick:
        layers.append(alt.Chart(ranked[ranked["sweep_pick"]]).mark_point(
            size=500, color="red", shape="circle", strokeWidth=3).encode(
            x="gzip_bytes:Q", y=f"{metric}:Q"))
    st.altair_chart(alt.layer(*layers), width="stretch")
    st.caption("Dashed: the Pareto front (no other variant is better on accuracy, size and "
               "latency at once). Red ring: the sweep's pick.")
with c2:
    st.subheader("latency per runtime")
    bars = alt.Chart(ranked).mark_bar().encode(
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
        x=alt.X("p50_ms:Q", title="p50 ms (batch 1)"),
        color=alt.Color("runtime:N", legend=alt.Legend(orient="bottom")),
        tooltip=["run", "label", "runtime", "p50_ms:Q", "p90_ms:Q"])  # typed: a sweep has no p90
    st.altair_chart(bars, width="stretch")
