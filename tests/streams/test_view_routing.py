"""Account/cluster views while Faust's table routing cannot route yet (no broker needed).

Faust's ``table_route`` raises ``TypeError`` from the producer's partitioner until the
producer has metadata for the table's topic; the view then answers from this worker's state,
or 503 (retry) for a key it does not hold - never a 500.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.exceptions import SameNode

from streams.views import _table_route


class Resp(SimpleNamespace):
    status: int
    body: Any


class FakeView:
    web = object()

    def json(self, body: Any, status: int = 200) -> Resp:
        return Resp(status=status, body=body)


def route(raises: BaseException | None, proxied: Resp | None = None):
    async def route_req(table_name: str, key: str, web: Any, request: Any) -> Resp:
        if raises is not None:
            raise raises
        return proxied

    return SimpleNamespace(router=SimpleNamespace(route_req=route_req))


def handler(held: set[str]):
    async def get(view: FakeView, request: Any, account_id: str) -> Resp:
        if account_id in held:
            return view.json({"account_id": account_id})
        return view.json({"error": "unknown account"}, status=404)

    return get


def call(app: Any, held: set[str], key: str) -> Resp:
    get = _table_route(app, SimpleNamespace(name="account-state"), "account_id")(handler(held))
    request = SimpleNamespace(match_info={"account_id": key})
    return asyncio.run(get(FakeView(), request, account_id=key))


def test_routing_not_ready_answers_from_local_state() -> None:
    resp = call(route(TypeError("'NoneType' object is not iterable")), {"acct-1"}, "acct-1")
    assert resp.status == 200 and resp.body == {"account_id": "acct-1"}


def test_routing_not_ready_and_key_not_held_is_503_not_404() -> None:
    resp = call(route(TypeError("'NoneType' object is not iterable")), set(), "acct-2")
    assert resp.status == 503 and resp.body["account_id"] == "acct-2"


def test_owner_here_serves_locally_and_a_known_unknown_key_is_404() -> None:
    assert call(route(SameNode()), {"acct-1"}, "acct-1").status == 200
    assert call(route(SameNode()), set(), "acct-9").status == 404


def test_owner_elsewhere_is_proxied() -> None:
    proxied = Resp(status=200, body={"from": "other worker"})
    assert call(route(None, proxied), set(), "acct-3") is proxied
