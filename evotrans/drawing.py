"""Drawings of architectures: sublayer orders and genomes, and the figure helpers.

``draw_order(order, path)`` (a sublayer order as a row of coloured boxes) and
``draw_genome(genome, path)`` (a genome's cells of blocks) save a PNG, SVG or
PDF chosen by the file's suffix; ``order_figure`` / ``genome_figure`` return
the matplotlib figure instead (a report's result plots are in
:mod:`evotrans.report.plots`). Figures use matplotlib's object API on the Agg
canvas (no pyplot, no global backend). Every saved PNG/SVG carries its axes'
titles and labels as JSON in its ``Description`` metadata, so a test can read
them back from the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evotrans.errors import EvotransError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg", ".pdf")
COLOURS = {"s": "#4c72b0", "f": "#dd8452", "c": "#55a868"}
NAMES = {"s": "self-attention", "f": "feed-forward", "c": "encoder attention"}
COMBINERS = {"add": "+", "concat": "cat", "multiply": "×"}
_MAX_LETTERED = 120  # longer orders are drawn as thin boxes without letters


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def figure_labels(figure: Figure) -> list[dict[str, str]]:
    """Title, x label and y label of every axes of ``figure``."""
    return [
        {"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel()}
        for ax in figure.axes
        if ax.get_label() != "<colorbar>"
    ]


def save_figure(figure: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Save by suffix (.png, .svg, .pdf); PNG/SVG metadata hold :func:`figure_labels`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise EvotransError(f"{path}: cannot draw to {suffix or 'no suffix'!r} (use .png or .svg)")
    path.parent.mkdir(parents=True, exist_ok=True)
    description = json.dumps({"axes": figure_labels(figure)})
    metadata: dict[str, Any] = {}
    if suffix == ".png":
        metadata = {"Description": description}
    elif suffix == ".svg":
        metadata = {"Description": description, "Date": None}
    figure.savefig(path, format=suffix[1:], dpi=dpi, metadata=metadata, bbox_inches="tight")
    return path


# -- sublayer orders ------------------------------------------------------------------------------


def _order_rows(order: str) -> list[tuple[str, str]]:
    """``[(stack, letters)]``: one row, or encoder and decoder rows for ``ENC|DEC``."""
    from evotrans.sublayers import parse_order

    if "|" in order:
        encoder, _, decoder = order.partition("|")
        return [
            ("encoder", parse_order(encoder, role="encoder")),
            ("decoder", parse_order(decoder, role="decoder")),
        ]
    letters = parse_order(order, role="decoder")  # s, f and c: any single stack
    return [("decoder" if "c" in letters else "layers", letters)]


def order_figure(order: str, title: str | None = None) -> Figure:
    """A row of coloured boxes (s, f, c), input at the left; two rows for ``ENC|DEC``."""
    from matplotlib.patches import Patch, Rectangle

    rows = _order_rows(order)
    length = max(len(letters) for _, letters in rows)
    lettered = length <= _MAX_LETTERED
    width = min(30.0, max(4.0, 0.32 * length + 1.8))
    figure = new_figure(width, 0.55 * len(rows) + 1.5)
    ax = figure.add_subplot()
    for r, (_, letters) in enumerate(rows):
        y = len(rows) - 1 - r
        for i, letter in enumerate(letters):
            ax.add_patch(
                Rectangle(
                    (i + 0.05, y + 0.1),
                    0.9,
                    0.8,
                    facecolor=COLOURS[letter],
                    edgecolor="white" if lettered else "none",
                    linewidth=0.8,
                )
            )
            if lettered:
                ax.text(
                    i + 0.5,
                    y + 0.5,
                    letter,
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=9,
                    fontweight="bold",
                )
    ax.set_xlim(0, length)
    ax.set_ylim(0, len(rows))
    ax.set_yticks([len(rows) - 1 - r + 0.5 for r in range(len(rows))], [stack for stack, _ in rows])
    step = max(1, length // 20)
    ax.set_xticks(
        [i + 0.5 for i in range(0, length, step)], [str(i + 1) for i in range(0, length, step)]
    )
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("sublayer position (input → output)")
    ax.set_ylabel("stack")
    used = [letter for letter in "scf" if any(letter in letters for _, letters in rows)]
    ax.legend(
        handles=[Patch(color=COLOURS[x], label=f"{x}: {NAMES[x]}") for x in used],
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        frameon=False,
        fontsize=8,
    )
    shown = "|".join(letters for _, letters in rows)
    ax.set_title(title or (shown if len(shown) <= 80 else shown[:79] + "…"), fontsize=10)
    return figure


def draw_order(order: str, path: str | Path) -> Path:
    """Draw a sublayer order (letters, a generator such as ``sandwich:6:2``, or ``ENC|DEC``)."""
    return save_figure(order_figure(order), path)


# -- genomes -------------------------------------------------------------------------------------


def _load_genome(genome: Any) -> Any:
    if not isinstance(genome, str):
        return genome
    try:
        from evotrans.genome.serialize import load_genome
    except ImportError as err:  # pragma: no cover - depends on the checkout
        raise EvotransError(f"drawing a genome needs evotrans.genome ({err})") from None
    return load_genome(genome)


def _branch_text(branch: Any) -> str:
    norm = "LN" if branch.norm in ("layer_norm", "ln") else "—"
    dim = str(branch.output_dim)
    act = branch.activation if branch.activation != "none" else "—"
    return f"{branch.layer}\n{norm} · ×{dim} · {act}"


def _draw_cell(ax: Any, cell: Any, role: str, num_cells: int) -> None:
    """Hidden state 0 (the cell input) at the bottom, block i's combiner at y = 2i."""
    from matplotlib.patches import FancyBboxPatch

    blocks = list(cell.blocks)
    n = len(blocks)
    centre, side = 1.1, {"left": 0.0, "right": 2.2}

    def state_xy(index: int) -> tuple[float, float]:
        return centre, 2.0 * index

    def arrow(start: tuple[float, float], end: tuple[float, float], rad: float = 0.0) -> None:
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#555555",
                "lw": 0.8,
                "shrinkA": 6,
                "shrinkB": 2,
                "connectionstyle": f"arc3,rad={rad}",
            },
        )

    ax.text(
        *state_xy(0),
        "input",
        ha="center",
        va="center",
        fontsize=7,
        bbox={"boxstyle": "round", "facecolor": "#eeeeee", "edgecolor": "#999999"},
    )
    used: set[int] = set()
    for i, block in enumerate(blocks, start=1):
        y_branch = 2.0 * i - 0.9
        for name in ("left", "right"):
            branch = getattr(block, name)
            x = side[name]
            dead = branch.layer == "dead_branch"
            ax.add_patch(
                FancyBboxPatch(
                    (x - 0.85, y_branch - 0.3),
                    1.7,
                    0.6,
                    boxstyle="round,pad=0.02",
                    facecolor="#f7f7f7" if dead else "#dbe6f4",
                    edgecolor="#bbbbbb" if dead else "#4c72b0",
                    linestyle="--" if dead else "-",
                    linewidth=0.8,
                )
            )
            ax.text(
                x,
                y_branch,
                "dead" if dead else _branch_text(branch),
                ha="center",
                va="center",
                fontsize=5.5,
                color="#999999" if dead else "black",
            )
            if dead:
                continue
            used.add(branch.input)
            sx, sy = state_xy(branch.input)
            far = i - branch.input > 1
            rad = (0.35 if name == "left" else -0.35) if far else 0.0
            arrow((sx, sy), (x, y_branch - 0.3), rad)
            arrow((x, y_branch + 0.3), (centre, 2.0 * i))
        ax.text(
            centre,
            2.0 * i,
            COMBINERS.get(block.combiner, block.combiner),
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "circle", "facecolor": "#fbe3d2", "edgecolor": "#dd8452"},
        )
    outputs = [i for i in range(1, n + 1) if i not in used] or [n]
    top = 2.0 * n + 1.2
    ax.text(
        centre,
        top,
        "output" if len(outputs) == 1 else f"output (sum of {len(outputs)})",
        ha="center",
        va="center",
        fontsize=7,
        bbox={"boxstyle": "round", "facecolor": "#eeeeee", "edgecolor": "#999999"},
    )
    for i in outputs:
        arrow(state_xy(i), (centre, top - 0.25), 0.3 if i < n else 0.0)
    ax.set_xlim(-1.2, 3.4)
    ax.set_ylim(-0.7, top + 0.6)
    ax.set_yticks([2.0 * i for i in range(1, n + 1)], [str(i) for i in range(1, n + 1)])
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("left branch · combiner · right branch")
    ax.set_ylabel("block")
    ax.set_title(f"{role} cell × {num_cells}", fontsize=10)


def genome_figure(genome: Any, title: str | None = None) -> Figure:
    """One panel per cell (encoder, decoder): blocks as boxes, arrows from their inputs.

    ``genome``: an :class:`evotrans.genome.types.Genome`, any object with
    ``.encoder`` (or None) / ``.decoder`` cells having ``.blocks`` (each with
    ``.left`` / ``.right`` branches — ``input``, ``norm``, ``layer``,
    ``output_dim``, ``activation`` — and ``.combiner``) and ``.num_cells``,
    or a genome as text (seed name, compact form, JSON).
    """
    genome = _load_genome(genome)
    cells = [
        (role, cell)
        for role in ("encoder", "decoder")
        if (cell := getattr(genome, role, None)) is not None
    ]
    if not cells:
        raise EvotransError("genome has no cells to draw")
    tallest = max(len(cell.blocks) for _, cell in cells)
    figure = new_figure(4.6 * len(cells), 0.85 * tallest + 2.0)
    for k, (role, cell) in enumerate(cells, start=1):
        num = getattr(cell, "num_cells", getattr(genome, "num_cells", 1))
        _draw_cell(figure.add_subplot(1, len(cells), k), cell, role, num)
    name = title or getattr(genome, "name", None)
    if name:
        figure.suptitle(name, fontsize=11)
    return figure


def draw_genome(genome: Any, path: str | Path) -> Path:
    """Draw an Evolved-Transformer-style genome (see :func:`genome_figure`)."""
    return save_figure(genome_figure(genome), path)
