"""Optimizer lab: the training chapter made visible."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import kerasmodels as km
from kerasmodels.architectures import example_dataset, lab_architectures
from kerasmodels.dashboard import common
from kerasmodels.options import TRAINING

LAB = lab_architectures()

st.title("Optimizer lab")
surface_tab, curves_tab, lr_tab, reg_tab = st.tabs(
    ["Loss surface", "Optimizers on a model", "LR range test", "L1 against L2"])


@st.cache_data(show_spinner=False)
def surface(steps: int):
    return km.loss_surface(steps=steps)


with surface_tab:
    st.caption("The chapter's linear regression y = w·x + b: its mean squared error over (w, b) "
               "and the path each optimizer takes from (0, 0).")
    steps = st.slider("Steps", 10, 300, 100, key="surface_steps")
    data = surface(steps)
    w, b, loss = np.array(data["w"]), np.array(data["b"]), np.array(data["loss"])
    W, B = np.meshgrid(w, b)
    dw, db = w[1] - w[0], b[1] - b[0]
    grid = pd.DataFrame({"w": W.ravel() - dw / 2, "w2": W.ravel() + dw / 2,
                         "b": B.ravel() - db / 2, "b2": B.ravel() + db / 2,
                         "log10 loss": np.log10(loss.ravel())})
    heat = alt.Chart(grid).mark_rect().encode(
        x=alt.X("w:Q", title="w", scale=alt.Scale(domain=[w[0], w[-1]], nice=False)), x2="w2",
        y=alt.Y("b:Q", title="b", scale=alt.Scale(domain=[b[0], b[-1]], nice=False)), y2="b2",
        color=alt.Color("log10 loss:Q", scale=alt.Scale(scheme="viridis")))
    paths = pd.DataFrame([{"optimizer": name, "step": i, "w": p[0], "b": p[1]}
                          for name, path in data["paths"].items() for i, p in enumerate(path)])
    lines = alt.Chart(paths).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x="w:Q", y="b:Q", color=alt.Color("optimizer:N"), order="step:Q",
        tooltip=["optimizer", "step", "w", "b"])
    optimum = alt.Chart(pd.DataFrame([{"w": data["optimum"][0], "b": data["optimum"][1]}])) \
        .mark_point(shape="cross", size=300, color="white", filled=True).encode(x="w:Q", y="b:Q")
    st.altair_chart(alt.layer(heat, lines, optimum).properties(height=520), width="stretch")
    ends = {name: path[-1] for name, path in data["paths"].items()}
    st.dataframe(pd.DataFrame([{"optimizer": k, "w": v[0], "b": v[1]} for k, v in ends.items()]),
                 hide_index=True)

with curves_tab:
    c1, c2, c3 = st.columns(3)
    arch = c1.selectbox("Model", LAB, key="curves_arch",
                        index=LAB.index(common.api_default(km.compare_optimizers, "arch")))
    epochs = c2.number_input("Epochs", 1, 50, 5, key="curves_epochs")
    chosen = c3.multiselect("Optimizers", TRAINING["optimizer"].options,
                            default=TRAINING["optimizer"].search)
    if st.button("Compare optimizers", key="curves_go"):
        try:
            with st.spinner("training the same initial model once per optimizer"):
                curves = km.compare_optimizers(arch, example_dataset(arch),
                                               optimizers=tuple(chosen), epochs=int(epochs))
        except Exception as exc:
            common.show_error(exc)
        else:
            st.session_state["curves"] = curves
    if "curves" in st.session_state:
        curves = st.session_state["curves"]
        frame = pd.DataFrame({name: c["val_loss"] for name, c in curves.items()})
        frame.index = pd.Index(range(1, len(frame) + 1), name="epoch")
        st.caption("validation loss per epoch")
        st.line_chart(frame)

with lr_tab:
    c1, c2 = st.columns(2)
    arch = c1.selectbox("Model", LAB, key="lr_arch",
                        index=LAB.index(common.api_default(km.find_learning_rate, "arch")))
    lr_steps = c2.number_input("Steps", 20, 500, 100, key="lr_steps")
    if st.button("Run the LR range test", key="lr_go"):
        try:
            with st.spinner("raising the learning rate every mini-batch"):
                st.session_state["lr_found"] = km.find_learning_rate(
                    arch, example_dataset(arch), steps=int(lr_steps))
        except Exception as exc:
            common.show_error(exc)
    if "lr_found" in st.session_state:
        found = st.session_state["lr_found"]
        frame = pd.DataFrame({"learning rate": found["learning_rates"],
                              "smoothed loss": found["smoothed"]})
        chart = alt.Chart(frame).mark_line().encode(
            x=alt.X("learning rate:Q", scale=alt.Scale(type="log")), y="smoothed loss:Q")
        rule = alt.Chart(pd.DataFrame([{"lr": found["suggested"]}])).mark_rule(
            color="red").encode(x="lr:Q")
        st.altair_chart(chart + rule, width="stretch")
        st.success(f"Suggested learning rate: {found['suggested']:.2e} (a tenth of the rate at "
                   f"the lowest loss, {found['min_loss_lr']:.2e})")

with reg_tab:
    c1, c2 = st.columns(2)
    strength = c1.number_input("Strength", 1e-5, 1.0, 3e-3, format="%.4f", key="reg_strength")
    reg_epochs = c2.number_input("Epochs", 1, 50, 8, key="reg_epochs")
    if st.button("Compare L1 and L2", key="reg_go"):
        try:
            regularized = common.api_default(km.compare_regularizers, "arch")
            with st.spinner(f"training {regularized} with no regularizer, L1 and L2"):
                st.session_state["regs"] = km.compare_regularizers(
                    regularized, example_dataset(regularized), strength=float(strength),
                    epochs=int(reg_epochs))
        except Exception as exc:
            common.show_error(exc)
    if "regs" in st.session_state:
        regs = st.session_state["regs"]
        frame = pd.concat([pd.DataFrame({"weight": r["weights"], "regularizer": name})
                           for name, r in regs.items()])
        hist = alt.Chart(frame).mark_bar(opacity=0.6).encode(
            x=alt.X("weight:Q", bin=alt.Bin(maxbins=80)), y=alt.Y("count()", stack=None),
            color="regularizer:N")
        st.altair_chart(hist, width="stretch")
        st.dataframe(pd.DataFrame([{"regularizer": name, "share |w| < 1e-3": r["near_zero"],
                                    "L2 norm": r["l2_norm"], "val accuracy": r["val_accuracy"]}
                                   for name, r in regs.items()]), hide_index=True)
        st.caption("L1's penalty has a constant slope, so it pushes small weights to exactly "
                   "zero; L2's slope vanishes near zero, so it only shrinks them.")
