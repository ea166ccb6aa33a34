"""One exception root for the engine; invalid input carries its reason.

``streams/`` forwards :attr:`InvalidEvent.reason` to the dead-letter topic.
"""

from __future__ import annotations

__all__ = ["DistillguardError", "InvalidEvent", "PolicyError"]


class DistillguardError(Exception):
    """Root of every error raised by distillguard."""


class InvalidEvent(DistillguardError):
    """An input record breaks its contract (not JSON, wrong types, absurd values).

    The record must be dead-lettered with :attr:`reason`; it is never dropped silently.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyError(DistillguardError):
    """The enforcement policy file is invalid. Fix the YAML named in the message."""
