"""Every dashboard page through Streamlit's AppTest: widgets, actions, errors as messages."""

from __future__ import annotations

import json
import shutil

import pytest

from kerasmodels.dashboard import APP

TIMEOUT = 240


@pytest.fixture(scope="module")
def board_dir(dashboard_runs, cnn_run):
    """The shared dashboard runs directory, plus a corrupt run."""
    broken = dashboard_runs / "cnn-digits-20000101-000000"
    if not broken.exists():
        shutil.copytree(cnn_run.path, broken, ignore=shutil.ignore_patterns("exports"))
        manifest = json.loads((broken / "manifest.json").read_text())
        (broken / "manifest.json").write_text(json.dumps({**manifest, "id": broken.name}))
        (broken / "model.keras").write_bytes(b"truncated")
    return dashboard_runs


@pytest.fixture
def app(board_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(board_dir))

    def open_page(page: str | None = None):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.run()
        if page:
            at.switch_page(f"views/{page}.py")
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_models_lists_runs_filters_and_shows_one(app, cnn_run):
    at = app()
    assert at.title[0].value == "Models"
    table = at.dataframe[0].value
    assert cnn_run.id in set(table["run"]) and "test_acc" in table.columns
    assert any("cnn-digits-20000101-000000" in e and "corrupt" in e for e in errors(at))
    at.text_input[0].set_value("transformer").run()
    assert set(at.dataframe[0].value["arch"]) == {"transformer"}
    at.text_input[0].set_value("").run()
    at.selectbox(key="models_run").set_value(cnn_run.id).run()
    assert at.subheader[0].value == cnn_run.id
    summary = "\n".join(c.value for c in at.code)
    assert "conv_0" in summary and "Total params" in summary
    names = [b.label for b in at.get("download_button")]
    assert any("tflite-int8.tflite" in n for n in names) and any("labels.json" in n for n in names)


def test_train_page_trains_a_run_that_models_then_lists(app, board_dir):
    before = {p.name for p in board_dir.iterdir()}
    at = app("train")
    assert at.selectbox[0].value == "mlp"
    at.number_input[0].set_value(2)  # epochs
    at.button[0].click().run()
    assert not errors(at), errors(at)
    assert any("Saved" in s.value for s in at.success)
    new = [p.name for p in board_dir.iterdir() if p.name not in before]
    assert len(new) == 1 and new[0].startswith("mlp-digits")
    assert new[0] in set(app().dataframe[0].value["run"])
    shutil.rmtree(board_dir / new[0])


def test_train_page_shows_bad_hyperparameters_as_messages(app):
    at = app("train")
    learning_rate = next(n for n in at.number_input if n.label == "Learning rate")
    learning_rate.set_value(0.0)
    at.button[0].click().run()
    assert any("learning_rate must be a number > 0" in e for e in errors(at)), errors(at)


def test_lab_shows_the_surface_and_runs_the_lr_test(app):
    at = app("lab")
    charts = at.get("vega_lite_chart")
    assert charts, "the loss surface chart is missing"
    at.number_input(key="lr_steps").set_value(20)
    at.button(key="lr_go").click().run()
    assert any("Suggested learning rate" in s.value for s in at.success)
    at.number_input(key="reg_epochs").set_value(1)
    at.button(key="reg_go").click().run()
    table = at.dataframe[-1].value
    assert list(table["regularizer"]) == ["none", "l1", "l2"]
    none, l1 = table.set_index("regularizer").loc[["none", "l1"], "share |w| < 1e-3"]
    assert l1 > none  # L1 drives weights to zero


def test_compress_page_makes_a_child_and_links_to_compare(app, board_dir, cnn_run):
    at = app("compress")
    at.selectbox(key="compress_run").set_value(cnn_run.id)
    at.multiselect[0].set_value(["cluster"])
    at.multiselect[1].set_value(["tflite-int8"])
    at.button[0].click().run()
    assert not errors(at), errors(at)
    assert any("Made 1 child run" in s.value for s in at.success)
    children = [p for p in board_dir.iterdir() if p.name.endswith("-cluster")]  # the only one
    assert len(children) == 1 and (children[0] / "exports" / "tflite-int8.tflite").is_file()
    assert at.dataframe[0].value["format"].tolist() == ["tflite-int8", "tflite-int8"]
    assert any(link.label == "Compare the family" for link in at.get("page_link"))
    shutil.rmtree(children[0])


def test_the_compress_pages_sweep_budget_is_the_sweeps_own_default(app):
    """Left empty, the whole sweep gets ``accuracy_budget=None``: the sweep's default (one
    point, or one validation example when that is more). A budget of the page's own (it had
    one point) was refused on a validation split under 100 examples."""
    from kerasmodels.compression.sweep import DEFAULT_BUDGET

    at = app("compress")
    budget = at.number_input(key="sweep_budget")
    assert budget.value is None and budget.disabled  # enabled with "Run the whole sweep"
    assert f"{DEFAULT_BUDGET * 100:g} points" in budget.proto.placeholder
    at.checkbox[0].check().run()
    assert not at.number_input(key="sweep_budget").disabled


def test_compare_page_shows_the_benchmark(app, cnn_run):
    at = app("compare")
    at.selectbox(key="compare_run").set_value(cnn_run.id).run()
    table = at.dataframe[0].value
    assert {"keras", "tflite-int8", "onnx"} <= set(table["format"])
    assert table["pareto"].any()
    assert len(at.get("vega_lite_chart")) == 2


def test_compare_page_without_a_benchmark_says_how_to_make_one(app, transformer_run):
    at = app("compare")
    at.selectbox(key="compare_run").set_value(transformer_run.id).run()
    assert any("No benchmark for this family yet" in i.value for i in at.info)


def test_playground_predicts_with_every_variant(app, cnn_run):
    at = app("playground")
    at.selectbox(key="playground_run").set_value(cnn_run.id).run()
    at.radio[0].set_value("Test example").run()
    table = at.dataframe[0].value
    assert {"keras", "tflite-float32", "tflite-int8", "onnx"} <= set(table["format"])
    assert table["label"].notna().all() and (table["ms"] > 0).all()
    assert any("Prediction for example #0" in m.value for m in at.markdown)


def test_playground_takes_typed_tokens_and_rejects_unknown_ones(app, transformer_run):
    at = app("playground")
    at.selectbox(key="playground_run").set_value(transformer_run.id).run()
    assert at.radio[0].value == "Type tokens"
    at.text_input[0].set_value("A w5 w9 w7 B").run()
    assert not errors(at)
    assert at.dataframe[0].value["label"].notna().all()
    at.text_input[0].set_value("A hello").run()
    assert any("unknown token 'hello'" in e for e in errors(at))


def test_reruns_leave_tensorflow_state_alone(app, monkeypatch):
    """Streamlit calls Keras 3's clear_session() after every script run once a module named
    keras is imported (tfmot imports it): a full gc.collect() and a cleared kernel cache per
    rerun, which starved the server under concurrent pages. The dashboard turns that off."""
    import keras

    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    at = app()
    at.run()
    assert not cleared


def test_imported_runs_show_and_predict_like_any_other(tmp_path, monkeypatch):
    """A Keras 3 model and a SavedModel written without Keras, imported: the Models page shows
    them, the Playground predicts with them."""
    from streamlit.testing.v1 import AppTest

    import kerasmodels as km
    from kerasmodels.backend import tf

    keras3 = pytest.importorskip("keras")
    mine = keras3.Sequential([keras3.Input((8, 8, 1)), keras3.layers.Flatten(),
                              keras3.layers.Dense(10, activation="softmax")], name="mine3")
    keras_run = km.import_model(mine, "digits", out_dir=tmp_path)

    class Scores(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
        def serve(self, x):
            return {"scores": tf.tile(tf.reduce_mean(x, axis=[1, 2]), [1, 10])}

    module = Scores()
    tf.saved_model.save(module, str(tmp_path / "graph"), signatures={"serving_default": module.serve})
    graph_run = km.import_model(tmp_path / "graph", "digits", out_dir=tmp_path, name="graph")
    monkeypatch.setenv("KERASMODELS_RUNS_DIR", str(tmp_path))
    for run in (keras_run, graph_run):
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.run()
        at.selectbox(key="models_run").set_value(run.id).run()
        assert not at.exception and at.subheader[0].value == run.id
        assert run.id in set(at.dataframe[0].value["run"])
        at.switch_page("views/playground.py").run()
        at.selectbox(key="playground_run").set_value(run.id).run()
        at.radio[0].set_value("Test example").run()
        assert not at.exception and not errors(at), errors(at)
        assert at.dataframe[0].value["label"].notna().all()


def test_a_new_board_class_and_sweep_target_reach_the_cli_and_the_compress_page(app,
                                                                                monkeypatch):
    """The board classes and the sweep targets are tables: a row added to each is offered by
    `kerasmodels sweep --help`, accepted by km.sweep's checks, named by the fitting rows and
    offered by the Compress page's widgets."""
    from kerasmodels import boards
    from kerasmodels.compression import sweep as sweeping
    from tests.conftest import cli

    board = boards.Board("8k-ram-64k-flash", 8 * 1024, 64 * 1024, "a test board")
    monkeypatch.setattr(boards, "BOARDS", [*boards.BOARDS, board])
    target = sweeping.Target("bench", "a test target", "tflm", "flash_bytes",
                             ("flash_bytes", "arena_bytes", "p50_ms"))
    monkeypatch.setattr(sweeping, "TARGETS", {**sweeping.TARGETS, "bench": target})
    helped = " ".join(cli("sweep", "--help").stdout.split())
    assert "8k-ram-64k-flash (a test board)" in helped and "bench: a test target" in helped
    assert boards.get_board("8k-ram-64k-flash") is board
    assert "8k-ram-64k-flash" in boards.fitting(flash_bytes=60_000, arena_bytes=4_000)
    assert "8k-ram-64k-flash" not in boards.fitting(flash_bytes=60_000, arena_bytes=9_000)
    at = app("compress")
    at.checkbox[0].check().run()
    assert "bench: a test target" in at.radio[0].options and not at.exception
    at.radio[0].set_value("micro").run()
    assert "8k-ram-64k-flash (a test board)" in at.selectbox[1].options, at.selectbox[1].options
