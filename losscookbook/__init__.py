"""losscookbook: loss functions and activations for PyTorch, validated and explained.

Every loss is a function ``xxx_loss(input, target, *, ..., reduction="mean")`` and a module
``XxxLoss``; the chapters of the book explain each family and check its rules of thumb.
"""

from . import data, metrics, plotting, training
from .smoothing import (
    BinaryCrossEntropyWithSmoothing,
    DistillationLoss,
    LabelSmoothingCrossEntropy,
    binary_cross_entropy_with_smoothing,
    distillation_loss,
    label_smoothing_cross_entropy,
    smooth_labels,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # smoothing
    "smooth_labels",
    "label_smoothing_cross_entropy",
    "LabelSmoothingCrossEntropy",
    "binary_cross_entropy_with_smoothing",
    "BinaryCrossEntropyWithSmoothing",
    "distillation_loss",
    "DistillationLoss",
]

from .activations import (
    GELU,
    Maxout,
    dead_unit_fraction,
    dead_units,
    derivative,
    gelu,
    sign_coherence,
)

__all__ += [
    # activations
    "gelu",
    "GELU",
    "Maxout",
    "derivative",
    "dead_units",
    "dead_unit_fraction",
    "sign_coherence",
]
