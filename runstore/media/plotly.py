"""wandb.Plotly: a plotly figure (or a matplotlib figure converted with plotly's converter) →
`media/plotly/….plotly.json` (`{"data": …, "layout": …}`, the bytes wandb 0.31 writes for the same
figure and plotly version) + a `plotly-file` reference.

`Plotly.from_figure` is what log() uses for raw figures: it returns a Plotly when it can, and falls back
to a PNG `Image` when the figure holds images (as wandb does), plotly is missing, or plotly's converter
cannot handle the figure — a chart is never lost because of a converter limitation.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

from ._util import ensure_matplotlib_figure, file_ref, is_matplotlib, json_bytes, warn
from .base import BindContext, Media
from .image import Image


def _is_plotly(v: Any) -> bool:
    return (type(v).__module__ or "").startswith("plotly") and hasattr(v, "to_plotly_json")


def _mpl_to_plotly(fig: Any) -> Any:
    """plotly.tools.mpl_to_plotly, minus its side effect: it closes the user's figure (then
    `plt.gcf()` is a new empty one). The exporter is run with close_mpl=False instead."""
    try:
        from plotly import matplotlylib
    except ImportError:
        raise ImportError("converting matplotlib figures needs plotly: pip install plotly") from None
    renderer = matplotlylib.PlotlyRenderer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the converter warns about every artist it cannot map
        matplotlylib.Exporter(renderer, close_mpl=False).run(fig)
    return renderer.plotly_fig


def _plain_arrays(v: Any) -> Any:
    """numpy arrays left in the figure's JSON (plotly < 6) as lists, the way wandb 0.31 lists them. The
    base64 typed arrays of plotly >= 6 ({"dtype", "bdata", "shape"}) stay as they are: wandb writes
    them so too, and plotly.js reads them."""
    if isinstance(v, dict):
        return {k: _plain_arrays(x) for k, x in v.items()}
    if isinstance(v, Sequence) and not isinstance(v, str):
        return [_plain_arrays(x) for x in v]
    np = sys.modules.get("numpy")  # a figure holding numpy arrays has numpy loaded
    if np is not None and isinstance(v, np.ndarray):
        return [_plain_arrays(x) for x in (v.tolist() if v.ndim > 0 else [v.tolist()])]
    return v


class Plotly(Media):
    _log_type = "plotly-file"

    def __init__(self, val: Any) -> None:
        if is_matplotlib(val):
            fig = ensure_matplotlib_figure(val)
            if any(ax.images for ax in fig.axes):
                raise ValueError(
                    "Plotly cannot convert matplotlib figures containing images; log wandb.Image(fig) instead"
                )
            val = _mpl_to_plotly(fig)
        elif isinstance(val, dict) and "data" in val:
            val = _PlainFigure(val)  # an already-serialized figure dict
        elif not _is_plotly(val):
            raise TypeError(
                f"Plotly accepts a plotly figure or a matplotlib figure, not {type(val).__name__}"
            )
        self._bytes = json_bytes(_plain_arrays(val.to_plotly_json()))

    @classmethod
    def make_plot_media(cls, val: Any) -> Media:
        return cls.from_figure(val)

    @classmethod
    def from_figure(cls, fig: Any) -> Media:
        """A Plotly for plotly figures and convertible matplotlib figures, else a PNG Image."""
        if not is_matplotlib(fig):
            return cls(fig)
        mfig = ensure_matplotlib_figure(fig)
        if any(ax.images for ax in mfig.axes):
            return Image(mfig)
        try:
            return cls(mfig)
        except ImportError:
            warn(
                "plotly is not installed: matplotlib figures are logged as PNG images "
                "(pip install plotly for interactive charts)",
                once="plotly-missing",
            )
        except Exception as e:  # plotly's converter lags behind matplotlib: fall back, never lose the chart
            warn(
                f"could not convert the matplotlib figure to plotly ({type(e).__name__}: {e}); "
                "logged as a PNG image",
                once=f"plotly-convert:{type(e).__name__}",
            )
        return Image(mfig)

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        return file_ref(ctx, self._log_type, "plotly", key, step, self._bytes, "plotly.json")


class _PlainFigure:
    def __init__(self, d: dict[str, Any]) -> None:
        self._d = {"data": d.get("data", []), "layout": d.get("layout", {})}

    def to_plotly_json(self) -> dict[str, Any]:
        return self._d
