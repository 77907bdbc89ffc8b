"""The plots of the docs' training-strategies page, drawn from the optimizer lab's functions on
the built-in data: each optimizer's path on the training chapter's loss surface
(``km.loss_surface``), their validation curves on the digits MLP (``km.compare_optimizers``),
the kernel weights under L1 and L2 (``km.compare_regularizers``) and the learning-rate range
test (``km.find_learning_rate``).

    .venv/bin/python scripts/lab_plots.py                    # rewrite docs/lab/*.png
    .venv/bin/python scripts/lab_plots.py --quick --out DIR  # fewer epochs and steps, into DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kerasmodels as km  # noqa: E402

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    print(f"wrote {path}")


def plot_loss_surface(path: Path, steps: int) -> None:
    """The chapter's y = wx + b: the loss over (w, b) and each optimizer's path from (0, 0)."""
    plt = pyplot()
    surface = km.loss_surface(steps=steps)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    loss = np.array(surface["loss"])
    levels = np.geomspace(loss.min() + 1e-9, loss.max(), 25)
    ax.contour(surface["w"], surface["b"], loss, levels=levels, cmap="viridis", linewidths=0.7)
    for name, points in surface["paths"].items():
        w, b = np.array(points).T
        ax.plot(w, b, marker=".", markersize=3, linewidth=1.2, label=name)
    ax.plot(*surface["optimum"], marker="*", markersize=14, color="black",
            label="least squares")
    ax.set_xlabel("w")
    ax.set_ylabel("b")
    ax.set_title(f"MSE of y = w x + b on the training chapter's data, {steps} steps each")
    ax.legend(fontsize=8)
    save(fig, path)


def plot_optimizers(path: Path, epochs: int) -> None:
    """Validation loss and accuracy per epoch of one MLP, the same start for each optimizer."""
    plt = pyplot()
    curves = km.compare_optimizers("mlp", "digits", optimizers=OPTIMIZERS, epochs=epochs)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, curve in curves.items():
        x = np.arange(1, len(curve["val_loss"]) + 1)
        loss_ax.plot(x, curve["val_loss"], marker="o", markersize=3, label=name)
        acc_ax.plot(x, curve["val_accuracy"], marker="o", markersize=3, label=name)
    loss_ax.set_ylabel("validation loss")
    acc_ax.set_ylabel("validation accuracy")
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    loss_ax.set_yscale("log")
    loss_ax.legend(fontsize=8)
    fig.suptitle("The digits MLP from one initial model: each optimizer at its default rate")
    save(fig, path)


def plot_regularizers(path: Path, epochs: int) -> None:
    """Every kernel weight after training with no penalty, L1 and L2 (same start)."""
    plt = pyplot()
    result = km.compare_regularizers("mlp", "digits", epochs=epochs)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bins = np.linspace(-0.4, 0.4, 161)
    for name, row in result.items():
        ax.hist(np.clip(row["weights"], bins[0], bins[-1]), bins=bins, histtype="step",
                linewidth=1.3, label=f"{name}: {100 * row['near_zero']:.0f}% with |w| < 1e-3, "
                                     f"val {row['val_accuracy']:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("kernel weight")
    ax.set_ylabel("weights (log)")
    ax.set_title("L1 sets weights to exactly zero; L2 only shrinks them")
    ax.legend(fontsize=8)
    save(fig, path)


def plot_lr_find(path: Path, steps: int) -> None:
    """The range test: the loss against a rising learning rate, and the suggestion."""
    plt = pyplot()
    found = km.find_learning_rate("cnn", "digits", steps=steps)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.plot(found["learning_rates"], found["losses"], alpha=0.4, label="loss")
    ax.plot(found["learning_rates"], found["smoothed"], label="smoothed")
    ax.axvline(found["suggested"], color="black", linestyle=":",
               label=f"suggested {found['suggested']:.2g}")
    ax.set_ylim(0, 1.5 * max(found["smoothed"][:5]))  # the explosion at the end runs off
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log)")
    ax.set_ylabel("training loss")
    ax.set_title("LR range test of the digits CNN (Smith, 2017)")
    ax.legend(fontsize=8)
    save(fig, path)


# file name -> (what draws it, its budget: (full, --quick))
PLOTS = {"loss-surface": (plot_loss_surface, (100, 20)),
         "optimizers": (plot_optimizers, (10, 2)),
         "regularizers": (plot_regularizers, (8, 2)),
         "lr-find": (plot_lr_find, (100, 20))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and steps")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "lab",
                        help="the folder the PNG files go to")
    args = parser.parse_args(argv)
    for name, (draw, (full, quick)) in PLOTS.items():
        draw(args.out / f"{name}.png", quick if args.quick else full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
