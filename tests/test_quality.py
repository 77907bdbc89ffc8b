"""The default budgets reach the accuracy the docs promise (docs/benchmarks.md) (slow: full default training)."""

import pytest

import kerasmodels as km

TARGETS = [("cnn", "digits", 0.97), ("mlp", "digits", 0.95), ("rnn", "sequences", 0.85),
           ("transformer", "text", 0.85)]


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "dataset", "minimum"), TARGETS)
def test_default_training_reaches_the_target(tmp_path, arch, dataset, minimum, request):
    if arch == "cnn":  # the same run the compression tests use as teacher and parent
        run = request.getfixturevalue("full_cnn_run")
    else:
        run = km.train(arch, dataset, out_dir=tmp_path, verbose=0)  # every default
    accuracy = run.metrics["test"]["accuracy"]
    print(f"{arch} on {dataset}: test accuracy {accuracy:.4f}")
    assert accuracy >= minimum
