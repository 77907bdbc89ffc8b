"""Playground: one input, every variant of a family side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import kerasmodels as km
from kerasmodels.dashboard import common
from kerasmodels.tasks import label_name

st.title("Playground")
run_id = common.pick_family(key="playground_run")
run = common.load_run(run_id)
info = run.record.dataset
prep = info.preprocessing


@st.cache_resource(show_spinner="loading every variant of the family")
def variants(path: str, stamp: tuple):
    return km.load_variants(path)


@st.cache_data(show_spinner=False)
def test_split(path: str):
    return km.load_run(path).dataset().test


try:
    loaded = variants(str(run.path), common.stamp())
except Exception as exc:
    common.show_error(exc)
    st.stop()
st.caption(f"{len(loaded)} variants: " + ", ".join(sorted({v.name for v in loaded})))
for member, file, reason in loaded.broken:
    st.warning(f"**{member}/{file}** is left out: {reason}")

x, truth, clip = None, None, None
methods = ["Test example"]
if prep.get("kind") == "image":
    methods = ["Draw", "Upload an image", *methods]
elif prep.get("kind") == "audio":
    methods = ["Record a word", "Upload a WAV", *methods]
elif prep.get("kind") == "machine_sound":  # 640 numbers are not typed
    pass
else:
    methods = ["Type tokens" if prep.get("kind") == "tokens" else "Type numbers", *methods]
method = st.radio("Input", methods, horizontal=True)
try:
    if method == "Draw":
        from kerasmodels.dashboard import canvas

        drawing = canvas.draw()
        if drawing is None:
            st.info("Draw a digit (white on black), then let go of the mouse.")
        else:
            x = km.image_input(drawing, prep, run.input_shape)
    elif method == "Upload an image":
        uploaded = st.file_uploader("An image (PNG, JPEG, BMP, GIF; up to 10 MB)")
        if uploaded is not None:
            x = km.image_input(uploaded.getvalue(), prep, run.input_shape)
    elif method in ("Record a word", "Upload a WAV"):
        sound = (st.audio_input("Say one word", sample_rate=prep["sample_rate"])
                 if method == "Record a word" else
                 st.file_uploader("A WAV file (mono, 16-bit PCM; up to 10 MB)", type=["wav"]))
        if sound is not None:
            x, clip = km.sound_input(sound.getvalue(), prep)
    elif method.startswith("Type"):
        vocab = prep.get("vocab")
        hint = (f"words of the vocabulary ({', '.join(vocab[:6])} …) or ids" if vocab else
                f"{int(np.prod(run.input_shape))} numbers")
        text = st.text_input(f"Input: {hint}, separated by spaces")
        if text:
            x = km.token_input(text, prep, run.input_shape, info.dtype)
    else:
        xs, ys = test_split(str(run.path))
        if st.button("Random test example"):
            st.session_state["example"] = int(np.random.randint(len(xs)))
        index = st.number_input("Test example", 0, len(xs) - 1,
                                st.session_state.get("example", 0), key=None)
        x = xs[int(index)]
        truth = label_name(info.task, info.labels, ys[int(index)])
except Exception as exc:
    common.show_error(exc)
    x = None

if x is not None:
    if prep.get("kind") == "image":
        shown = x.squeeze()
        st.image(np.clip(shown / max(float(shown.max()), 1e-6), 0, 1), width=112,
                 caption="what the model sees" + (f" (label {truth})" if truth is not None
                                                  else ""), clamp=True)
    elif prep.get("kind") == "audio":
        common.show_sound(clip, x, prep, truth)
    elif truth is not None:
        st.caption(f"true label: {truth}")
    try:
        rows = km.predict_variants(loaded, x)
    except Exception as exc:
        common.show_error(exc)
    else:
        table = pd.DataFrame([{k: v for k, v in r.items() if k != "probabilities"} for r in rows])
        labels_seen = {r["label"] for r in rows if r.get("label") is not None}
        where = f" for example #{int(index)}" if method == "Test example" else ""
        if rows and rows[0].get("anomaly_score") is not None:
            agree = ("all variants agree" if len(labels_seen) == 1 else
                     f"the variants say {', '.join(sorted(map(str, labels_seen)))}")
            st.markdown(f"**Prediction{where}: {rows[0]['label']}** (anomaly score "
                        f"{rows[0]['anomaly_score']:.4g} against the threshold "
                        f"{rows[0]['threshold']:.4g} by {rows[0]['variant']}); {agree}.")
        elif rows and rows[0].get("label") is not None:
            agree = ("all variants agree" if len(labels_seen) == 1 else
                     f"the variants say {', '.join(sorted(map(str, labels_seen)))}")
            st.markdown(f"**Prediction{where}: {rows[0]['label']}** "
                        f"({rows[0]['confidence']:.3f} by {rows[0]['variant']}); {agree}.")
        elif rows:
            st.markdown(f"**Prediction{where}: {rows[0].get('value')}**")
        st.subheader("Predictions")
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"confidence": st.column_config.ProgressColumn(
                         min_value=0.0, max_value=1.0, format="%.3f"),
                         "ms": st.column_config.NumberColumn("ms", format="%.3f")})
        probabilities = {r["variant"] + " · " + r["run"][-6:]: r["probabilities"] for r in rows
                         if r.get("probabilities")}
        if probabilities:
            labels = info.labels or [str(i) for i in range(len(rows[0]["probabilities"]))]
            st.caption("probabilities per class")
            st.bar_chart(pd.DataFrame(probabilities, index=labels), stack=False, height=260)
