"""Kafka security (SASL PLAIN/SCRAM, TLS) from settings, for Faust and aiokafka clients."""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings

__all__ = ["ssl_context", "faust_credentials", "aiokafka_security"]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A TLS context from the CA / client cert files, or None on plaintext protocols."""
    if not settings.security_protocol.endswith("SSL"):
        return None
    ctx = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.ssl_certfile:
        ctx.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    return ctx


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for :class:`faust.App`, or None for PLAINTEXT."""
    import faust

    ctx = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(username=settings.sasl_username, password=settings.sasl_password,
                                     mechanism=settings.sasl_mechanism, ssl_context=ctx)
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients."""
    kw: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol.startswith("SASL"):
        kw.update(sasl_mechanism=settings.sasl_mechanism, sasl_plain_username=settings.sasl_username,
                  sasl_plain_password=settings.sasl_password)
    ctx = ssl_context(settings)
    if ctx is not None:
        kw["ssl_context"] = ctx
    return kw
