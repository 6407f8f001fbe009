"""Plots of one or two summaries (baseline and candidate overlaid).

Built on ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global
figure state, no GUI backend, and PNG output goes through the Agg canvas
whatever backend a notebook or the CLI has selected. Each function takes
``sides``: ``[(label, Summary), ...]`` (one or two) and returns a Figure;
``to_png`` / ``to_base64`` serialise it. Over-time plots show every row,
warm-up included, with each run's cut marked by a dashed line and the
warm-up region shaded.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from analysis.scan import whole_ticks
from analysis.summary import Summary
from analysis.timeline import nice_window

Sides = Sequence[tuple[str, Summary]]
SIDE_COLORS = ("#4c72b0", "#dd8452")  # baseline, candidate
KIND_COLORS = (
    "#c44e52",
    "#8172b2",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
    "#55a868",
)
PERCENTILE_STYLES = {"p50": "-", "p95": "--", "p99": ":"}


def _figure(width: float = 9.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def to_base64(fig: Figure) -> str:
    """The figure as a base64 PNG, ready for ``<img src="data:image/png;base64,...">``."""
    return base64.b64encode(to_png(fig)).decode("ascii")


def _window(sides: Sides) -> float:
    ticks = [t for _, s in sides for t in s.ticks_s]
    return whole_ticks(nice_window(max(s.last_s for _, s in sides)), ticks)


def _mark_warmup(ax: Axes, sides: Sides) -> None:
    for i, (_label, s) in enumerate(sides):
        cuts = [c.cut_s for c in s.warmup.values()]
        for cut in cuts:
            if cut > 0:
                ax.axvline(cut, color=SIDE_COLORS[i], linestyle="--", linewidth=1, alpha=0.8)
        if max(cuts, default=0) > 0:
            ax.axvspan(0, max(cuts), color=SIDE_COLORS[i], alpha=0.07, linewidth=0)


def _warmup_caption(sides: Sides) -> str:
    parts, rules = [], set()
    for label, s in sides:
        cuts = [c.cut_s for c in s.warmup.values()]
        rules |= {c.rule for c in s.warmup.values()}
        lo, hi = min(cuts, default=0.0), max(cuts, default=0.0)
        text = f"{lo:.1f} s" if hi - lo < 0.05 else f"{lo:.1f}-{hi:.1f} s"
        parts.append(f"{label} {text}")
    return f"warm-up cut (dashed, {' / '.join(sorted(rules))}): " + "; ".join(parts)


def latency_cdf(sides: Sides, names: Sequence[str] | None = None) -> Figure:
    """Empirical CDF of successful latencies, one panel per request name."""
    if names is None:
        seen: dict[str, None] = {}
        for _, s in sides:
            seen.update({n: None for n, x in s.samples.items() if x.size})
        names = list(seen)
    names = list(names)[:6] or ["(none)"]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = _figure(4.0 * cols, 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    grid = np.linspace(0, 1, 1001)
    for ax, name in zip(axes, names, strict=False):
        lo, hi = np.inf, 0.0
        for i, (label, s) in enumerate(sides):
            x = s.samples.get(name)
            if x is None or x.size == 0:
                continue
            # 1,001 quantiles draw the same curve as a million points, faster.
            qs = np.quantile(x, grid) if x.size > grid.size else x
            ys = grid if x.size > grid.size else (np.arange(1, x.size + 1) / x.size)
            ax.step(qs, ys, where="post", color=SIDE_COLORS[i], label=f"{label} (n={x.size:,})")
            lo = min(lo, float(qs[0]))
            hi = max(hi, float(qs[-1]))
        if lo > 0 and hi / lo > 30:  # log axis only where the values span decades
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_title(name)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("fraction <= x")
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=7, loc="lower right")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("Latency CDF (successful requests, after warm-up)")
    return fig


def percentiles_over_time(
    sides: Sides, name: str | None = None, window_s: float | None = None
) -> Figure:
    """p50 / p95 / p99 of one request name per time window."""
    name = name or sides[-1][1].primary
    window_s = window_s or _window(sides)
    fig = _figure()
    ax = fig.subplots()
    for i, (label, s) in enumerate(sides):
        ot = s.over_time(window_s=window_s, names=[name])
        for col, style in PERCENTILE_STYLES.items():
            if col in ot and ot[col].notna().any():
                ax.plot(
                    ot["t_s"],
                    ot[col],
                    linestyle=style,
                    color=SIDE_COLORS[i],
                    label=f"{label} {col}",
                )
    _mark_warmup(ax, sides)
    ax.set_title(f"{name} latency percentiles per {window_s:g} s window")
    ax.set_xlabel("seconds since the run's first request\n" + _warmup_caption(sides))
    ax.set_ylabel("latency (ms)")
    ax.grid(True, alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=8, ncol=2)
    return fig


def throughput_over_time(sides: Sides, window_s: float | None = None) -> Figure:
    """Requests per second (all names, per run) per time window."""
    window_s = window_s or _window(sides)
    fig = _figure()
    ax = fig.subplots()
    for i, (label, s) in enumerate(sides):
        ot = s.over_time(window_s=window_s, quantiles=())
        total = ot.groupby("t_s")["throughput_rps"].sum()
        # A run's last window is partial: it would draw a false collapse at the end.
        total = total[total.index + window_s <= s.last_s + 1e-9]
        ax.plot(total.index, total.to_numpy(), color=SIDE_COLORS[i], label=label)
    _mark_warmup(ax, sides)
    ax.set_title(f"Throughput per {window_s:g} s window (requests/s, per run)")
    ax.set_xlabel("seconds since the run's first request\n" + _warmup_caption(sides))
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=8)
    return fig


def failures_by_kind_over_time(sides: Sides, window_s: float | None = None) -> Figure:
    """Failures per window and kind (agent runs by the counting rule, plus failed logins,
    connects and dropped iterations); solid = last side, dashed = first."""
    window_s = window_s or _window(sides)
    fig = _figure()
    ax = fig.subplots()
    tables = [(label, s.failures_over_time(window_s=window_s)) for label, s in sides]
    kinds = sorted({k for _, t in tables for k in t.columns})
    colors = {k: KIND_COLORS[j % len(KIND_COLORS)] for j, k in enumerate(kinds)}
    styles = ["--", "-"] if len(sides) == 2 else ["-"]
    for i, (label, table) in enumerate(tables):
        for kind in table.columns:
            ax.plot(
                table.index,
                table[kind].to_numpy(),
                color=colors[kind],
                linestyle=styles[i],
                label=f"{label}: {kind}",
            )
    _mark_warmup(ax, sides)
    if not kinds:
        ax.text(0.5, 0.5, "no failures", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"Failures by kind per {window_s:g} s window")
    ax.set_xlabel("seconds since the run's first request\n" + _warmup_caption(sides))
    ax.set_ylabel("failed runs (and logins, connects)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if kinds:
        ax.legend(fontsize=7, ncol=2)
    return fig
