"""`run.watch(model)`: a torch model's gradient and parameter histograms every `log_freq` steps, and its
graph, through torch hooks (docs/COMPAT.md §4.6).

As in wandb: parameters are read by a forward hook of the model (in training mode only), gradients by
a hook on each parameter's gradient; each counts its own calls and logs on every `log_freq`-th one,
under `parameters/<prefix><name>` and `gradients/<prefix><name>`, as 64-bin histograms with
`commit=False` (they join the next row the script logs). A call that does not log costs one counter
increment. torch is never imported here before the user's model exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import term

if TYPE_CHECKING:
    from .run import Run

LOG_CHOICES = ("gradients", "parameters", "all", None)
NUM_BINS = 64
# Every model watched in this process gets the next index; from the second on, its keys carry the prefix
# `graph_<idx>` (wandb's keys exactly, with no separator: `gradients/graph_1fc.weight`).
_next_idx = 0


def take_indices(n: int, idx: int | None) -> list[int]:
    global _next_idx
    first = _next_idx if idx is None else idx
    _next_idx += n
    return [first + i for i in range(n)]


class _Counter:
    """True on every `every`-th call (wandb's log_track)."""

    __slots__ = ("n", "every")

    def __init__(self, every: int) -> None:
        self.n = 0
        self.every = every

    def due(self) -> bool:
        self.n += 1
        if self.n < self.every:
            return False
        self.n = 0
        return True


def _histogram(tensor: Any) -> tuple[list[float], list[float]] | None:
    """(counts, edges) of a tensor's finite values, binned by torch itself; None when none are finite."""
    import torch

    t = tensor.detach()
    if t.is_sparse:
        t = t.coalesce().values()  # the implicit zeros are not values the model holds
    flat = t.reshape(-1)
    if not flat.is_floating_point():
        flat = flat.float()
    elif flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()  # histc has no half kernels on the CPU
    flat = flat[torch.isfinite(flat)]
    if flat.numel() == 0:  # a diverged tensor: nothing to draw, as in wandb
        return None
    lo, hi = flat.min().item(), flat.max().item()
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5  # one value: a bin around it rather than histc's degenerate range
    counts = torch.histc(flat, bins=NUM_BINS, min=lo, max=hi).cpu()
    edges = torch.linspace(lo, hi, steps=NUM_BINS + 1)
    return counts.tolist(), edges.tolist()


class Watcher:
    """The hooks of one watched model, removable by `unwatch`."""

    def __init__(self, run: Run, model: Any, log: str | None, log_freq: int, prefix: str, graph_idx: int):
        self.model = model
        self.handles: list[Any] = []
        self._run = run
        self._prefix = prefix
        if log in ("parameters", "all"):
            counter = _Counter(log_freq)
            self.handles.append(model.register_forward_hook(self._parameters_hook(counter)))
        if log in ("gradients", "all"):
            for name, p in model.named_parameters():
                if p.requires_grad:
                    self.handles.append(p.register_hook(self._gradient_hook(name, _Counter(log_freq))))
        self._graph_idx = graph_idx

    def _emit(self, key: str, tensor: Any) -> None:
        from ..media.histogram import Histogram

        try:
            h = _histogram(tensor)
            if h is not None:
                self._run.log({key: Histogram(np_histogram=h)}, commit=False)
        except Exception as e:  # tracking never stops training
            term.warn(f"watch: could not log {key} ({type(e).__name__}: {e})", once_key=f"watch:{key}")

    def _parameters_hook(self, counter: _Counter) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            if not module.training or not counter.due():
                return
            for name, p in module.named_parameters():
                self._emit(f"parameters/{self._prefix}{name}", p)

        return hook

    def _gradient_hook(self, name: str, counter: _Counter) -> Any:
        key = f"gradients/{self._prefix}{name}"

        def hook(grad: Any) -> None:
            if counter.due():
                self._emit(key, grad)

        return hook

    def hook_graph(self) -> Any:
        """Record the model's layers on its first forward pass in training mode, as `graph_<idx>`."""
        from ..media.graph import Graph

        graph = Graph(format="torch")
        seen: set[int] = set()
        handles: list[Any] = []

        def layer_hook(module: Any, inputs: Any, output: Any, name: str = "") -> None:
            if id(module) in seen:
                return
            seen.add(id(module))
            params = [(n, list(p.shape)) for n, p in module.named_parameters(recurse=False)]
            graph.add_node(
                id=len(graph.nodes),
                name=name,
                class_name=type(module).__name__,
                output_shape=_shape(output),
                parameters=params,
                num_parameters=[int(p.numel()) for p in module.parameters(recurse=False)],
            )

        def done(module: Any, inputs: Any, output: Any) -> None:
            if not module.training:
                return
            for h in handles:
                h.remove()
            handles.clear()
            key = f"graph_{self._graph_idx}"
            try:
                self._run.summary[key] = graph
            except Exception as e:
                term.warn(f"watch: could not save {key} ({type(e).__name__}: {e})", once_key=f"watch:{key}")

        for name, sub in self.model.named_modules():
            if sub is self.model or next(sub.children(), None) is not None:
                continue  # leaves only: containers would repeat their children
            handles.append(sub.register_forward_hook(lambda m, i, o, _n=name: layer_hook(m, i, o, _n)))
        handles.append(self.model.register_forward_hook(done))
        self.handles.extend(handles)
        return graph

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()


def _shape(output: Any) -> Any:
    if hasattr(output, "shape"):
        return list(output.shape)
    if isinstance(output, (list, tuple)):
        return [_shape(o) for o in output]
    return None


def check_args(models: Any, criterion: Any, log: Any, log_freq: Any, idx: Any, log_graph: Any) -> list[Any]:
    """The models to watch; bad arguments are a TypeError/ValueError naming the fix."""
    if log not in LOG_CHOICES:
        raise ValueError(f'watch(log=...) must be "gradients", "parameters", "all" or None, not {log!r}')
    if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
        raise ValueError(
            f"watch(log_freq=...) must be a positive int (steps between histograms), not {log_freq!r}"
        )
    if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int) or idx < 0):
        raise ValueError(f"watch(idx=...) must be a non-negative int, not {idx!r}")
    seq = list(models) if isinstance(models, (list, tuple)) else [models]
    if not seq:
        raise ValueError("watch() needs a model: watch(model) or watch([model_a, model_b])")
    for m in seq:
        if not (
            callable(getattr(m, "named_parameters", None))
            and callable(getattr(m, "register_forward_hook", None))
        ):
            raise TypeError(f"watch() takes torch.nn.Module models, not {type(m).__name__}")
    return seq
