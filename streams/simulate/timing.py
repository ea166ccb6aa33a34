"""Request timing processes: diurnal human activity, think-time sessions, Poisson and periodic jobs.

All times are epoch ms; rates are per hour; time-zone offsets are hours east of UTC.
"""

from __future__ import annotations

import math
import random

from streams.simulate.identities import HOUR_MS

__all__ = [
    "DIURNAL",
    "local_hour",
    "periodic_times",
    "poisson",
    "poisson_times",
    "sample_diurnal",
    "session_times",
]

#: Relative activity of a human by local hour (0 = midnight); peaks late morning and evening.
DIURNAL: tuple[float, ...] = (
    0.25,
    0.12,
    0.06,
    0.04,
    0.04,
    0.06,
    0.15,
    0.35,
    0.65,
    0.9,
    1.0,
    1.0,
    0.85,
    0.9,
    1.0,
    0.95,
    0.85,
    0.75,
    0.7,
    0.75,
    0.8,
    0.75,
    0.6,
    0.4,
)
_MAX_W = max(DIURNAL)


def local_hour(ts: int, tz_hours: float) -> float:
    """Local hour of day (0..24) of ``ts`` in a zone ``tz_hours`` east of UTC."""
    return ((ts / HOUR_MS) + tz_hours) % 24.0


def sample_diurnal(
    rng: random.Random,
    start_ms: int,
    end_ms: int,
    tz_hours: float,
    profile: tuple[float, ...] = DIURNAL,
) -> int:
    """One time in ``[start_ms, end_ms)`` drawn with density ∝ ``profile[local hour]`` (rejection sampling)."""
    top = max(profile)
    for _ in range(200):
        t = rng.randrange(start_ms, end_ms)
        if rng.random() * top < profile[int(local_hour(t, tz_hours))]:
            return t
    return rng.randrange(start_ms, end_ms)


def session_times(
    rng: random.Random, t0: int, n: int, think_median_ms: float, sigma: float = 0.9
) -> list[int]:
    """``n`` request times starting at ``t0`` separated by lognormal think times (median ``think_median_ms``)."""
    out = [t0]
    t = float(t0)
    mu = math.log(think_median_ms)
    for _ in range(n - 1):
        t += rng.lognormvariate(mu, sigma)
        out.append(int(t))
    return out


def poisson_times(
    rng: random.Random, start_ms: int, end_ms: int, rate_per_hour: float
) -> list[int]:
    """Homogeneous Poisson arrivals in ``[start_ms, end_ms)`` at ``rate_per_hour``."""
    if rate_per_hour <= 0 or end_ms <= start_ms:
        return []
    mean_gap = HOUR_MS / rate_per_hour
    out: list[int] = []
    t = start_ms + rng.expovariate(1.0 / mean_gap)
    while t < end_ms:
        out.append(int(t))
        t += rng.expovariate(1.0 / mean_gap)
    return out


def periodic_times(
    rng: random.Random, start_ms: int, end_ms: int, period_ms: float, jitter_ms: float
) -> list[int]:
    """A cron-like job: one request every ``period_ms`` with ± ``jitter_ms`` uniform jitter."""
    out: list[int] = []
    t = start_ms + rng.uniform(0, period_ms)
    while t < end_ms:
        j = int(t + rng.uniform(-jitter_ms, jitter_ms))
        if start_ms <= j < end_ms:
            out.append(j)
        t += period_ms
    return out


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson(``lam``) count (Knuth for small ``lam``, rounded normal approximation above 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
