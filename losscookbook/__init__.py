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
from .imbalance import (
    BalancedBinaryCrossEntropy,
    balanced_binary_cross_entropy,
    balanced_sampler,
    class_weights,
    pos_weight_from_counts,
)
from .focal import SigmoidFocalLoss, SoftmaxFocalLoss, sigmoid_focal_loss, softmax_focal_loss
from .ghm import GHMCLoss, GHMRLoss, ghmc_loss, ghmr_loss, gradient_density

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
    # imbalance
    "class_weights",
    "pos_weight_from_counts",
    "balanced_sampler",
    "balanced_binary_cross_entropy",
    "BalancedBinaryCrossEntropy",
    # focal
    "sigmoid_focal_loss",
    "SigmoidFocalLoss",
    "softmax_focal_loss",
    "SoftmaxFocalLoss",
    # ghm
    "gradient_density",
    "ghmc_loss",
    "GHMCLoss",
    "ghmr_loss",
    "GHMRLoss",
]
