"""`wandb.tensorboard.patch()` / `unpatch()`: what TensorBoard's writers write lands in the current run."""

from __future__ import annotations

from ...capture import tensorboard as tb
from ...media import Histogram, Image
from ...sdk import registry


def patch(
    save: bool = True,
    tensorboard_x: bool | None = None,
    pytorch: bool | None = None,
    root_logdir: str = "",
) -> None:
    """Capture what TensorBoard `SummaryWriter`s (torch.utils.tensorboard, tensorboardX, TensorFlow's
    tf.summary) write into the current run, or the next one `init()` starts (docs/COMPAT.md §18).

    `root_logdir`: writers in sub-directories of it get the sub-directory as a key prefix (without it,
    the common root of the writers' directories). `save`: copy the event files into the run.
    `pytorch`/`tensorboard_x` true: leave TensorFlow's writer alone. ValueError if already patched;
    ImportError without the tensorboard package (`pip install 'runstore[tensorboard]'`).
    """
    tb.enable(
        registry.publish,
        tb.MediaTypes(Histogram, Image),
        root_logdir=root_logdir,
        save=save,
        pytorch=pytorch,
        tensorboard_x=tensorboard_x,
    )


def unpatch() -> None:
    """Give TensorBoard its own writers back. Directories already being read are read to the end."""
    tb.disable()


__all__ = ["patch", "unpatch"]
