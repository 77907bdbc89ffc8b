"""A drawing canvas (an inline ``st.components.v2`` component): white ink on black, as the
digits dataset has it; the drawing comes back as a PNG data URL when the stroke ends."""

from __future__ import annotations

import base64

import streamlit as st

HTML = """
<div class="km-canvas">
  <canvas width="224" height="224"></canvas>
  <button type="button">Clear</button>
</div>
"""
CSS = """
.km-canvas canvas { background: #000; border-radius: 6px; touch-action: none; cursor: crosshair; }
.km-canvas button { display: block; margin-top: 6px; }
"""
JS = """
export default function(component) {
  const { parentElement, setStateValue } = component;
  const canvas = parentElement.querySelector('canvas');
  const clear = parentElement.querySelector('button');
  const ctx = canvas.getContext('2d');
  const reset = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  reset();
  ctx.strokeStyle = '#fff'; ctx.lineWidth = 18; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
  let drawing = false;
  const at = (e) => { const r = canvas.getBoundingClientRect();
                      return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.onpointerdown = (e) => { drawing = true; const [x, y] = at(e);
                                  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y); ctx.stroke(); };
  canvas.onpointermove = (e) => { if (!drawing) return; const [x, y] = at(e);
                                  ctx.lineTo(x, y); ctx.stroke(); };
  const finish = () => { if (!drawing) return; drawing = false;
                         setStateValue('image', canvas.toDataURL('image/png')); };
  canvas.onpointerup = finish; canvas.onpointerleave = finish;
  clear.onclick = () => { reset(); setStateValue('image', null); };
}
"""

_component = st.components.v2.component("kerasmodels_canvas", html=HTML, css=CSS, js=JS)


def draw(key: str = "canvas") -> bytes | None:
    """Show the canvas; the PNG bytes of the drawing so far, or None."""
    result = _component(key=key, on_image_change=lambda: None)
    url = getattr(result, "image", None)
    if not url or "," not in url:
        return None
    return base64.b64decode(url.split(",", 1)[1])
