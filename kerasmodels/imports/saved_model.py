"""A SavedModel of any signature, behind the part of the Keras model interface that export and
the runtimes use (``inputs``, ``model(x, training=False)``, ``variables``, ``count_params``).

A SavedModel has no Keras layers, so recipes that change layers (pruning, clustering, QAT,
distillation's default student, fine-tuning) refuse it with a clear error; export to TFLite
and ONNX, the benchmark and the Playground work on it. Its graph is data: loading restores
its variables, and ``check_graph`` refuses a signature that reads or writes files or calls
back into Python before it is ever run.

>>> from kerasmodels.imports.saved_model import GraphModel
>>> model = GraphModel.load("my_saved_model", input_shape=(8, 8, 1))  # doctest: +SKIP
>>> model(x).shape  # doctest: +SKIP
TensorShape([360, 10])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasmodels.backend import tf
from kerasmodels.errors import UnsafeModelError, UnsupportedLayerError

SIGNATURE = "serving_default"
# ops a model has no business running: file access and calls back into Python
REFUSED_OPS = frozenset({
    "ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "PyFunc", "PyFuncStateless",
    "EagerPyFunc", "SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice",
    "MergeV2Checkpoints", "WholeFileReader", "WholeFileReaderV2", "TextLineReaderV2",
    "TFRecordReaderV2", "FixedLengthRecordReaderV2", "TFRecordDataset", "TextLineDataset",
    "FixedLengthRecordDataset", "ImmutableConst", "LoadAndRemapMatrix", "SnapshotDatasetV2",
    "DatasetToTFRecord", "SummaryWriter", "CreateSummaryFileWriter", "WriteSummary",
})


def is_saved_model(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "saved_model.pb").is_file()


def graph_ops(function) -> set[str]:
    """The op types ``function`` (a signature) runs, inside its library functions too."""
    graph = function.graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for library_function in graph.library.function:
        ops |= {node.op for node in library_function.node_def}
    return ops


def check_graph(function, source: str | Path) -> None:
    """Raise UnsafeModelError if ``function`` (a signature) runs an op of ``REFUSED_OPS``."""
    refused = sorted(graph_ops(function) & REFUSED_OPS)
    if refused:
        raise UnsafeModelError(f"{source}: its signature runs {', '.join(refused)} (file access "
                               "or Python calls), which no model needs: the SavedModel is refused")


class GraphModel(tf.Module):
    """One signature of a loaded SavedModel: one tensor in, one tensor out."""

    def __init__(self, loaded, *, input_shape: tuple[int, ...], signature: str = SIGNATURE,
                 source: str | Path = "the SavedModel", softmax: bool = False):
        name = Path(str(source)).name
        super().__init__(name=name if name.isidentifier() else "saved_model")
        names = sorted(loaded.signatures.keys())
        if signature not in loaded.signatures:
            raise UnsupportedLayerError(f"{source} has no signature {signature!r}; it has: "
                                        f"{', '.join(names) or 'none (save it with signatures)'}")
        function = loaded.signatures[signature]
        check_graph(function, source)
        _, specs = function.structured_input_signature
        outputs = function.structured_outputs
        if len(specs) != 1 or len(outputs) != 1:
            raise UnsupportedLayerError(
                f"{source}'s signature {signature!r} takes {len(specs)} input(s) and gives "
                f"{len(outputs)} output(s): kerasmodels imports models of one input and one "
                "output")
        (self._input_name, spec), = specs.items()
        self._output_name = next(iter(outputs))
        if spec.shape.rank is not None and not spec.shape[1:].is_compatible_with(input_shape):
            raise UnsupportedLayerError(
                f"{source} takes inputs of shape {tuple(spec.shape)}, which the dataset's "
                f"{tuple(input_shape)} examples do not fit: import it with a dataset of that shape")
        self.loaded, self.signature, self.softmax = loaded, signature, softmax
        self.saved_model_path = Path(source) if is_saved_model(source) else None
        self.inputs = [tf.TensorSpec((None, *input_shape), spec.dtype, name="inputs")]
        self.outputs = [outputs[self._output_name]]
        self.layers: list = []
        self.concrete_function = function

    @classmethod
    def load(cls, path: str | Path, *, input_shape: tuple[int, ...],
             signature: str = SIGNATURE, softmax: bool = False) -> GraphModel:
        """``path``'s ``signature``; ``softmax=True`` turns the logits it gives into
        probabilities."""
        from kerasmodels.errors import ModelFileError

        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise ModelFileError(f"{path} cannot be loaded as a SavedModel ({type(exc).__name__}"
                                 f"{': ' + first if first else ''}): it is corrupt or truncated"
                                 ) from None
        return cls(loaded, input_shape=input_shape, signature=signature, source=path,
                   softmax=softmax)

    def __call__(self, x, training: bool = False):
        outputs = self.concrete_function(**{self._input_name: x})[self._output_name]
        return tf.nn.softmax(outputs) if self.softmax else outputs

    def predict(self, x, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        """Outputs for a batch of inputs, ``batch_size`` at a time (as Keras' ``predict``)."""
        x = np.asarray(x, self.inputs[0].dtype.as_numpy_dtype)
        return np.concatenate([np.asarray(self(tf.constant(x[i:i + batch_size])))
                               for i in range(0, len(x), batch_size)])

    @property
    def variables(self) -> tuple:
        """The variables the signature reads (what a converter must keep alive)."""
        return tuple(self.concrete_function.variables)

    def count_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.variables))

    def summary(self, print_fn=print, **kwargs) -> None:
        print_fn(f"SavedModel signature {self.signature!r}: {self.inputs[0].shape} -> "
                 f"{self.outputs[0].shape}, {self.count_params():,} parameters in "
                 f"{len(self.variables)} variables (no Keras layers)")


__all__ = ["GraphModel", "check_graph", "graph_ops", "is_saved_model"]
