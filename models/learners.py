"""Online learners of one partition: unsupervised anomaly, calibration, supervised verdicts.

* :class:`ModelBank.anomaly` - ``MinMaxScaler | QuantileFilter(HalfSpaceTrees)`` (River) over
  an account's feature vector. It is scored when an account is *re-evaluated* (every few
  requests or minutes), never per event, and it only learns from accounts that did not look
  suspicious (a sporadic attacker must not become "normal").
* Calibration - the raw HST score is mapped to the fraction of recent benign-looking scores
  below it (a quantile in [0, 1]), so thresholds mean the same thing on every partition.
* :class:`ModelBank.supervised` - ``StandardScaler | LogisticRegression`` learning from analyst
  verdicts (``distill-feedback``); it only contributes once it has seen
  ``supervised_min_labels`` verdicts of each kind.
* :class:`~models.baseline.Baselines` - population quantiles for alert reasons.

:meth:`ModelBank.snapshot` pickles all of it (River's own persistence format) **and signs the
blob with HMAC-SHA256**; :meth:`ModelBank.restore` refuses a blob whose signature does not
verify, because unpickling attacker-controlled bytes is code execution.

>>> bank = ModelBank(seed=1)
>>> blob = bank.snapshot(b"k" * 32)
>>> ModelBank(seed=1).restore(blob, b"k" * 32)
>>> ModelBank(seed=1).restore(blob, b"wrong key")
Traceback (most recent call last):
...
models.learners.SnapshotError: model snapshot signature does not verify: refusing to load it
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import math
import pickle  # noqa: S403 - only for our own HMAC-verified snapshots, see restore()
from collections import deque

import river
from river import anomaly, compose, linear_model, optim, preprocessing

from models.baseline import Baselines
from models.errors import DistillguardError

__all__ = ["ModelBank", "MODEL_FEATURES", "SnapshotError"]


class SnapshotError(DistillguardError):
    """A model snapshot is unsigned, tampered with, or from another River version.

    The worker must start with fresh models (or a snapshot signed with the current key).
    """

#: Features the River models see (counts log-scaled so MinMax/Standard scaling is sane).
MODEL_FEATURES = (
    "req_1h", "req_24h", "out_tok_1h", "ramp", "age_days", "cv_gap", "active_frac", "burst",
    "top_template_share", "dup_rate", "extraction_share", "reasoning_share",
    "long_output_share", "tool_share", "image_share", "error_rate", "new_model_share",
    "ip_blocks",
)
_LOGGED = frozenset({"req_1h", "req_24h", "out_tok_1h", "ramp", "age_days", "burst", "ip_blocks"})

_MAGIC = b"DGM1"


def model_vector(f: dict[str, float]) -> dict[str, float]:
    """The River input for a feature dict (a new dict; ``f`` is not modified)."""
    return {k: (math.log1p(f[k]) if k in _LOGGED else min(f[k], 10.0)) for k in MODEL_FEATURES}


class ModelBank:
    """River models, calibration and baselines of one partition.

    Parameters
    ----------
    seed
        Seed of the HalfSpaceTrees (same seed + same order of evaluations = same scores).
    n_trees, height, window_size
        HalfSpaceTrees shape; a tree of height h has 2**(h+1)-1 nodes, keep h <= 8.
    q
        Quantile of the QuantileFilter. Default - 0.98.
    calibration_size
        Recent benign-looking raw scores kept for calibration. Default - 512.
    supervised_min_labels
        Verdicts of each class needed before the supervised model is used. Default - 10.
    """

    def __init__(self, seed: int = 0, n_trees: int = 10, height: int = 8, window_size: int = 250,
                 q: float = 0.98, calibration_size: int = 512, supervised_min_labels: int = 10) -> None:
        if height > 10:
            raise ValueError(f"height must be <= 10, got {height}")
        self.seed = seed
        self.calibration_size = calibration_size
        self.supervised_min_labels = supervised_min_labels
        self.anomaly = preprocessing.MinMaxScaler() | anomaly.QuantileFilter(
            anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed),
            q=q,
        )
        self.supervised = compose.Pipeline(
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(optimizer=optim.SGD(0.05)),
        )
        self.baselines = Baselines()
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        self._labels = [0, 0]  # benign, attack
        self.n_scored = 0

    # -- unsupervised ------------------------------------------------------------------
    def score(self, f: dict[str, float], learn: bool) -> float:
        """Calibrated anomaly in [0, 1] of an account's features; learn from it if ``learn``."""
        x = model_vector(f)
        raw = self.anomaly.score_one(x)
        self.n_scored += 1
        srt = self._sorted
        cal = bisect.bisect_left(srt, raw) / len(srt) if len(srt) >= 50 else 0.0
        if learn:
            self.anomaly.learn_one(x)
            rec = self._recent
            rec.append(raw)
            bisect.insort(srt, raw)
            if len(rec) > self.calibration_size:
                old = rec.popleft()
                del srt[bisect.bisect_left(srt, old)]
        return cal

    # -- supervised --------------------------------------------------------------------
    def learn_verdict(self, f: dict[str, float], attack: bool) -> None:
        self.supervised.learn_one(model_vector(f), attack)
        self._labels[1 if attack else 0] += 1

    @property
    def supervised_ready(self) -> bool:
        return min(self._labels) >= self.supervised_min_labels

    def attack_probability(self, f: dict[str, float]) -> float | None:
        """P(attack) from analyst verdicts, or None until enough verdicts of each kind."""
        if not self.supervised_ready:
            return None
        return float(self.supervised.predict_proba_one(model_vector(f)).get(True, 0.0))

    # -- persistence -------------------------------------------------------------------
    def snapshot(self, key: bytes) -> bytes:
        """Pickle + HMAC-SHA256(key) of every learner (River's persistence format)."""
        if not key:
            raise ValueError("key must be non-empty bytes")
        payload = pickle.dumps(
            {
                "river": river.__version__,
                "seed": self.seed,
                "anomaly": self.anomaly,
                "supervised": self.supervised,
                "baselines": self.baselines.state(),
                "recent": list(self._recent),
                "labels": self._labels,
                "n_scored": self.n_scored,
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        sig = hmac.new(key, payload, hashlib.sha256).digest()
        return _MAGIC + sig + payload

    def restore(self, blob: bytes, key: bytes) -> None:
        """Load a :meth:`snapshot`. Raises :class:`SnapshotError` unless the signature verifies."""
        if not key:
            raise ValueError("key must be non-empty bytes")
        if len(blob) < len(_MAGIC) + 32 or blob[: len(_MAGIC)] != _MAGIC:
            raise SnapshotError("not a distillguard model snapshot: refusing to load it")
        sig, payload = blob[len(_MAGIC): len(_MAGIC) + 32], blob[len(_MAGIC) + 32:]
        if not hmac.compare_digest(sig, hmac.new(key, payload, hashlib.sha256).digest()):
            raise SnapshotError("model snapshot signature does not verify: refusing to load it")
        obj = pickle.loads(payload)  # noqa: S301 - authenticated above
        if obj.get("river") != river.__version__:
            raise SnapshotError(
                f"model snapshot was written by river {obj.get('river')}, running {river.__version__}: "
                "start with fresh models"
            )
        self.seed = obj["seed"]
        self.anomaly = obj["anomaly"]
        self.supervised = obj["supervised"]
        self.baselines = Baselines()
        self.baselines.load(obj["baselines"])
        self._recent = deque(obj["recent"])
        self._sorted = sorted(self._recent)
        self._labels = list(obj["labels"])
        self.n_scored = obj["n_scored"]
