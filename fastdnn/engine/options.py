"""What a training run does besides the network itself: optimiser, batches, regularisation.

The API layer validates these (``fastdnn.validation``); the engine trusts them.
"""

from dataclasses import asdict, dataclass

import numpy as np

from ..kernels.training import COURSE_LOSS


@dataclass(frozen=True)
class TrainingOptions:
    """Options of one training run (defaults: the notebook's plain full-batch descent).

    optimizer: "gd", "momentum" or "adam" (``fastdnn.kernels.update``).
    beta: momentum's; beta1, beta2, epsilon: Adam's (epsilon outside the root).
    lambd: L2 strength (cost + lambd/(2 m_b) sum ||W||^2; weights only).
    keep_prob: inverted dropout of the hidden layers (1 = none).
    batch_size: None for full batch; else shuffled mini-batches of that size,
        epoch e in the order of ``random_mini_batches(..., seed=shuffle_seed + e + 1)``.
    dropout_seed: start of the dropout masks' generator (``fastdnn.kernels.dropout``).
    decay: None, "inverse" (``update_lr``) or "scheduled" (``schedule_lr_decay``),
        with decay_rate and time_interval; the rate after epoch e is decay(lr0, e).
    update_arithmetic: "float64" (float32 parameters' momentum and Adam steps computed
        in float64 and rounded once: fastdnn's original numbers) or "native" (in the
        parameters' dtype, as NumPy, PyTorch and JAX do; faster). The same for float64.
    """

    optimizer: str = "gd"
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    lambd: float = 0.0
    keep_prob: float = 1.0
    batch_size: int = None
    shuffle_seed: int = 10
    dropout_seed: int = 0
    decay: str = None
    decay_rate: float = 1.0
    time_interval: int = 1000
    update_arithmetic: str = "float64"

    @property
    def gram_exact(self):
        """Whether the Gram strategy computes this run exactly (in real arithmetic): full
        batches with gradient descent or momentum (L2, dropout and decay allowed), not
        Adam (its update is not linear in the gradient) nor mini-batches."""
        return self.optimizer in ("gd", "momentum") and self.batch_size is None

    def kernel_hyperparameters(self, loss_form=COURSE_LOSS):
        """The kernels' ``hp`` vector (float64, ``kernels.training``'s indices); the
        recorded loss in the course's form unless ``loss_form`` says otherwise."""
        return np.array([self.beta, self.beta1, self.beta2, self.epsilon, self.lambd,
                         self.keep_prob, loss_form], dtype=np.float64)

    def as_dict(self):
        return asdict(self)
