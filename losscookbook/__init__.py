"""losscookbook: loss functions and activations for PyTorch, validated and explained.

Every loss is a function ``xxx_loss(input, target, *, ..., reduction="mean")`` and a module
``XxxLoss``; the chapters of the book explain each family and check its rules of thumb.

The loss and activation modules, one per chapter, re-export their public names here (each
module's ``__all__`` is the single list of what it exports). The support modules ``data``,
``metrics``, ``training`` and ``plotting`` are used through their module names.
"""

from . import (
    activations,
    classic,
    config,
    data,
    distributed,
    focal,
    ghm,
    imbalance,
    metric,
    metrics,
    multitask,
    plotting,
    recsys,
    regression,
    sampling,
    smoothing,
    training,
)
from .config import set_value_checks, value_checks
from .activations import *  # noqa: F403
from .classic import *  # noqa: F403
from .focal import *  # noqa: F403
from .ghm import *  # noqa: F403
from .imbalance import *  # noqa: F403
from .recsys import *  # noqa: F403
from .multitask import *  # noqa: F403
from .metric import *  # noqa: F403
from .regression import *  # noqa: F403
from .sampling import *  # noqa: F403
from .smoothing import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "set_value_checks",
    "value_checks",
    *classic.__all__,
    *regression.__all__,
    *activations.__all__,
    *smoothing.__all__,
    *imbalance.__all__,
    *focal.__all__,
    *ghm.__all__,
    *recsys.__all__,
    *multitask.__all__,
    *sampling.__all__,
    *metric.__all__,
]
