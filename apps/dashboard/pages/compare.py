"""Compare: every variant of a family on accuracy, size and latency."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

import common
import kerasmodels as km
from kerasmodels.compression.sweep import pareto_front

st.title("Compare")
run_id = common.pick_family(key="compare_run")
root = common.load_run(run_id)
saved = root.path / "benchmark.json"
calls = st.number_input("Timed calls per variant", 10, 1000, 50)
if st.button("Benchmark the family now", help="exports what is missing, then times every "
                                              "variant in every runtime"):
    try:
        with st.spinner("exporting and timing every variant"):
            km.benchmark(root, calls=int(calls), progress=False)
    except Exception as exc:
        common.show_error(exc)
if not saved.exists():
    st.info("No benchmark for this family yet: press the button above, or run "
            f"`kerasmodels benchmark {run_id}`.")
    st.stop()
rows = json.loads(saved.read_text())["rows"]
frame = pd.DataFrame(rows)
sweep_file = root.path / "sweep.json"
pick = json.loads(sweep_file.read_text()).get("pick") if sweep_file.exists() else None
metric = "accuracy" if frame["accuracy"].notna().any() else "mae"
ranked = frame.dropna(subset=[metric]).copy()
if metric == "accuracy":
    ranked["pareto"] = pareto_front(ranked[["accuracy", "bytes", "gzip_bytes", "p50_ms"]]
                                    .to_dict("records"), score="accuracy")
else:
    ranked["pareto"] = False
ranked["label"] = ranked["variant"] + " · " + ranked["format"]
if pick:
    ranked["sweep pick"] = (ranked["run"] == pick["run"]) & (ranked["format"] == pick["format"])
    st.success(f"Sweep pick: **{pick['recipe']} {pick['format']}**, {pick['x_smaller']}x smaller "
               f"than the parent's float32 TFLite, accuracy {pick['accuracy']:.4f}")
st.dataframe(ranked.drop(columns=["label"]), hide_index=True, width="stretch",
             column_config={"gzip_bytes": st.column_config.NumberColumn("gzip bytes"),
                            "flash_bytes": st.column_config.NumberColumn(
                                "flash bytes", help="what the device stores: the model file"),
                            "ram_bytes": st.column_config.NumberColumn(
                                "RAM bytes", help="TFLM: the measured tensor arena; LiteRT and "
                                "ONNX Runtime: the peak memory a fresh process adds while it "
                                "loads the file and runs one example"),
                            "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.3f")})
st.caption("Click a column header to sort.")

c1, c2 = st.columns(2)
with c1:
    st.subheader(f"{metric} against size")
    points = alt.Chart(ranked).mark_point(filled=True, size=120).encode(
        x=alt.X("gzip_bytes:Q", title="gzip bytes", scale=alt.Scale(type="log")),
        y=alt.Y(f"{metric}:Q", scale=alt.Scale(zero=False)),
        color="variant:N", shape="format:N",
        tooltip=["run", "variant", "format", "runtime", metric, "gzip_bytes", "p50_ms"])
    front = alt.Chart(ranked[ranked["pareto"]].sort_values("gzip_bytes")).mark_line(
        color="gray", strokeDash=[4, 4]).encode(x="gzip_bytes:Q", y=f"{metric}:Q")
    layers = [front, points]
    if pick:
        layers.append(alt.Chart(ranked[ranked["sweep pick"]]).mark_point(
            size=500, color="red", shape="circle", strokeWidth=3).encode(
            x="gzip_bytes:Q", y=f"{metric}:Q"))
    st.altair_chart(alt.layer(*layers), width="stretch")
    st.caption("Dashed: the Pareto front (no other variant is better on accuracy, size and "
               "latency at once). Red ring: the sweep's pick.")
with c2:
    st.subheader("latency per runtime")
    bars = alt.Chart(ranked).mark_bar().encode(
        y=alt.Y("label:N", sort="-x", title=None), x=alt.X("p50_ms:Q", title="p50 ms (batch 1)"),
        color="runtime:N", tooltip=["run", "label", "runtime", "p50_ms", "p90_ms"])
    st.altair_chart(bars, width="stretch")
