"""Web views of the worker (Faust's aiohttp server).

* ``GET /health`` - liveness, always 200 while the event loop runs.
* ``GET /ready`` - 200 when the broker answers, no rebalance is running, tables are
  recovered and partitions are assigned; 503 with the reason otherwise.
* ``GET /metrics`` - Prometheus exposition.
* ``GET /accounts/{account_id}`` - current risk, signals with baselines, recent alerts and
  actions of one account, served by the worker that owns the key (``table_route``).
* ``GET /clusters/{cluster_id}`` - the same for a cluster (link key).
* ``POST /control/dry-run`` - body ``{"dry_run": true|false}``: flips the enforcement kill
  switch on every worker (through the compacted control topic), without a restart.

With ``DISTILLGUARD_WEB_TOKEN`` set, every view but health, ready and metrics requires
``Authorization: Bearer <token>``. No view ever returns raw prompt text.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import orjson
from faust.exceptions import SameNode
from faust.web import Request, Response, View

if TYPE_CHECKING:
    from streams.app import Distillguard

__all__ = ["register_views"]

log = logging.getLogger("distillguard")

Handler = Callable[..., Awaitable[Response]]


def _table_route(app: Any, table: Any, match_info: str) -> Callable[[Handler], Handler]:
    """Faust's ``table_route`` (serve on the worker owning the key, proxy otherwise) that
    survives routing before the producer knows the table's topic.

    Faust finds the owner through the producer's partitioner, which raises ``TypeError``
    until the producer has fetched metadata for the changelog topic (right after start-up,
    on a worker that has not written state yet). Then the key is looked up here, and a key
    this worker does not hold answers 503 (retry) rather than 500 or a false 404.
    """

    def decorator(fun: Handler) -> Handler:
        @wraps(fun)
        async def get(view: View, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.match_info[match_info]
            try:
                return await app.router.route_req(table.name, key, view.web, request)
            except SameNode:
                return await fun(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - routing not ready: answer locally if we can
                log.debug("routing %s %r failed: %r", table.name, key, exc)
                resp = await fun(view, request, *args, **kwargs)
                if resp.status == 404:
                    return view.json({"error": "routing not ready, retry", match_info: key}, status=503)
                return resp

        return get

    return decorator


def register_views(dg: Distillguard) -> None:
    """Attach every view to ``dg.app``."""
    app, settings = dg.app, dg.settings
    account_table, cluster_table = dg.tables["account"], dg.tables["cluster"]

    def authorized(request: Request) -> bool:
        if not settings.web_token:
            return True
        header = request.headers.get("Authorization", "")
        return hmac.compare_digest(header.encode(), f"Bearer {settings.web_token}".encode())

    def unauthorized(view: View) -> Response:
        return view.json({"error": "unauthorized"}, status=401)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ok, why = dg.ready()
            return self.json({"ready": ok, "reason": why}, status=200 if ok else 503)

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(dg.metrics.render(), content_type="text/plain; version=0.0.4")

    @app.page("/accounts/{account_id}")
    class Account(View):
        @_table_route(app, account_table, "account_id")
        async def get(self, request: Request, account_id: str) -> Response:
            if not authorized(request):
                return unauthorized(self)
            return _subject_view(self, dg, "account", account_id)

    @app.page("/clusters/{cluster_id}")
    class Cluster(View):
        @_table_route(app, cluster_table, "cluster_id")
        async def get(self, request: Request, cluster_id: str) -> Response:
            if not authorized(request):
                return unauthorized(self)
            return _subject_view(self, dg, "cluster", cluster_id)

    @app.page("/control/dry-run")
    class DryRun(View):
        async def get(self, request: Request) -> Response:
            return self.json({"dry_run": dg.runtime.policy.dry_run})

        async def post(self, request: Request) -> Response:
            if not authorized(request):
                return unauthorized(self)
            try:
                body = orjson.loads(await request.read())
                flag = body["dry_run"]
                if not isinstance(flag, bool):
                    raise TypeError
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return self.json({"error": 'body must be {"dry_run": true|false}'}, status=400)
            from streams.control import publish_dry_run

            await publish_dry_run(settings, flag)
            return self.json({"dry_run": flag, "published": True})


def _subject_view(view: View, dg: Distillguard, kind: str, subject: str) -> Response:
    runtime = dg.runtime
    found: dict[str, Any] | None = None
    engines = runtime.accounts if kind == "account" else runtime.clusters
    assigned = sorted(engines)
    if not assigned:  # nothing processed yet on this worker: open engines for owned partitions
        try:
            assigned = sorted({tp.partition for tp in dg.app.consumer.assignment()
                               if tp.topic == (dg.settings.requests_topic if kind == "account"
                                               else dg.settings.links_topic)})
        except Exception:  # noqa: BLE001
            assigned = []
    for partition in assigned:
        engine = (runtime.account_engine(partition) if kind == "account"
                  else runtime.cluster_engine(partition))
        found = engine.account_view(subject) if kind == "account" else engine.cluster_view(subject)
        if found is not None:
            break
    if found is None:
        return view.json({"error": f"unknown {kind}", kind: subject}, status=404)
    return view.json(found)
