"""wandb.Histogram: stored inline in the row as `{"_type": "histogram", "values": [...], "bins": [...]}`."""

from __future__ import annotations

from typing import Any

from ._util import numpy, to_numpy, warn
from .base import BindContext, Media


class Histogram(Media):
    MAX_LENGTH = 512
    _log_type = "histogram"

    def __init__(self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64) -> None:
        if np_histogram is not None:
            if not isinstance(np_histogram, (tuple, list)) or len(np_histogram) != 2:
                raise ValueError("np_histogram must be a (values, bin_edges) pair, e.g. np.histogram(data)")
            values, bins = np_histogram
            self.histogram = values.tolist() if hasattr(values, "tolist") else list(values)
            self.bins = bins.tolist() if hasattr(bins, "tolist") else list(bins)
        elif sequence is None:
            raise ValueError(
                "Histogram needs data: Histogram(sequence) or Histogram(np_histogram=(values, edges))"
            )
        else:
            if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
                raise ValueError(f"num_bins must be a positive int, got {num_bins!r}")
            if num_bins > self.MAX_LENGTH:
                raise ValueError(f"num_bins is {num_bins}; a histogram has at most {self.MAX_LENGTH} bins")
            np = numpy()
            a = to_numpy(sequence)
            if a.dtype.kind == "b":
                a = a.astype(np.int64)
            if a.dtype.kind not in "iuf":
                raise TypeError(f"Histogram data must be numeric, got dtype {a.dtype}")
            a = a.ravel()
            if a.dtype.kind == "f":
                finite = np.isfinite(a)
                if not finite.all():
                    # np.histogram cannot bin NaN/Inf; a diverging run must still log its histograms
                    warn(
                        "Histogram data contains NaN or Inf; those values are left out",
                        once="histogram-nonfinite",
                    )
                    a = a[finite]
            counts, edges = np.histogram(a, bins=num_bins)
            self.histogram = counts.tolist()
            self.bins = edges.tolist()
        if len(self.histogram) > self.MAX_LENGTH:
            raise ValueError(f"a histogram has at most {self.MAX_LENGTH} bins, got {len(self.histogram)}")
        if len(self.bins) != len(self.histogram) + 1:
            raise ValueError(
                f"len(bins) must be len(values) + 1: got {len(self.bins)} bin edges for "
                f"{len(self.histogram)} values"
            )

    def to_json(self, run: Any = None) -> dict[str, Any]:
        return {"_type": self._log_type, "values": self.histogram, "bins": self.bins}

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        return self.to_json()
