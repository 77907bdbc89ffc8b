"""Weight clustering with tfmot: every kernel keeps ``clusters`` distinct values."""

from __future__ import annotations

import numpy as np

from kerasmodels._compat import tfmot_supports
from kerasmodels.backend import keras
from kerasmodels.compression.common import fine_tune, kernel_weights, wrapper_limit
from kerasmodels.modeling import clone
from kerasmodels.options import COMPRESSION


def kmeans_fits(layer, clusters: int, preserve_sparsity: bool) -> bool:
    """Whether tfmot's k-means++ initialization has enough weights in ``layer``'s kernels for
    ``clusters`` centroids: with ``preserve_sparsity`` the non-zero centroids are split between
    the negative and the positive weights in proportion to their counts, and each side needs a
    weight per centroid (tfmot raises "Expected num_to_sample <= points.rows()" otherwise: a
    small layer pruned 80% has too few). Where it has not, linear initialization is used."""
    for weight in layer.trainable_weights:
        if "kernel" not in weight.name:
            continue
        values = weight.numpy()
        if not preserve_sparsity:
            if values.size < clusters:
                return False
            continue
        negative, positive = int((values < 0).sum()), int((values > 0).sum())
        if negative + positive == 0:
            continue
        # tfmot rounds half to even (tf.math.round), as Python's round does
        wanted_negative = round((clusters - 1) * negative / (negative + positive))
        if negative < wanted_negative or positive < clusters - 1 - wanted_negative:
            return False
    return True


def cluster(model, data, *, clusters: int = 16, epochs: int = 3, learning_rate: float = 2e-4,
            batch_size: int = 32, preserve_sparsity: bool = False):
    """A clustered, stripped clone of ``model`` (k-means++ centroids) and its report.

    ``preserve_sparsity`` keeps zero weights at zero (tfmot's sparsity-preserving clustering,
    used after ``prune`` in a chain).
    """
    import tensorflow_model_optimization as tfmot

    COMPRESSION["clusters"].check(clusters)
    clustered, skipped, linear = [], [], []

    def wrap(layer):
        if not layer.trainable_weights:
            return layer
        limit = wrapper_limit(layer) or (
            # tfmot's strip leaves an attention layer's weights on the layer itself, where a
            # reloaded model (whose weights live in its query, key, value and output
            # sublayers) does not look for them: the saved child would not open again
            "its stripped weights do not reload" if isinstance(
                layer, keras.layers.MultiHeadAttention) else None)
        if limit or isinstance(layer, keras.layers.Embedding) or \
                not tfmot_supports("cluster", layer):
            skipped.append(f"{layer.name} ({type(layer).__name__}{': ' + limit if limit else ''})")
            return layer
        clustered.append(layer.name)
        init = tfmot.clustering.keras.CentroidInitialization
        if not kmeans_fits(layer, clusters, preserve_sparsity):
            linear.append(layer.name)  # k-means++ needs a weight per centroid
        return tfmot.clustering.keras.cluster_weights(
            layer, number_of_clusters=clusters,
            cluster_centroids_init=init.LINEAR if layer.name in linear else init.KMEANS_PLUS_PLUS,
            preserve_sparsity=preserve_sparsity)

    wrapped = keras.models.clone_model(clone(model), clone_function=wrap)
    history = fine_tune(wrapped, data, epochs=epochs, learning_rate=learning_rate,
                        batch_size=batch_size)
    stripped = tfmot.clustering.keras.strip_clustering(wrapped)
    unique = {name: int(np.unique(w).size) for name, w in kernel_weights(stripped).items()
              if name in clustered}
    return stripped, {"clusters": clusters, "preserve_sparsity": preserve_sparsity,
                      "clustered_layers": clustered, "linear_init_layers": linear,
                      "skipped_layers": skipped, "unique_values": unique}, history
