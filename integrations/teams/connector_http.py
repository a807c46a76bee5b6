"""Bot Connector calls over kept connections, on threads of their own.

botbuilder builds a connector client for every turn and every proactive call, and msrest
gives each client a requests session of its own: a new connection (for the real Bot Connector,
a new TLS handshake) per call. msrest also runs each blocking call on the event loop's
*default* executor, the threads that button presses, the board and ``/healthz`` hand their
store calls to, so a delivery drain to Teams could keep a click waiting for a thread.

``pool_connector_calls`` makes every connector client send through one shared session (its
connection pool sized to the threads) on the ``teams`` lane, a small pool of its own. The
session's settings are the ones msrest gives every client (retries, redirects); what varies
per request (headers, timeouts, the credentials' token) travels with the request, as before.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from msrest import async_client
from msrest.exceptions import ClientRequestError
from msrest.universal_http import ClientRequest
from msrest.universal_http.async_requests import (
    AsyncRequestsClientResponse,
    AsyncRequestsHTTPSender,
)

#: Connector calls in flight at once; more wait for a thread (and a pooled connection).
TEAMS_THREADS = 8

_lane = ThreadPoolExecutor(TEAMS_THREADS, thread_name_prefix="triagebot-teams")


class _Shared:
    """The one session, made on first use."""

    lock = threading.Lock()
    session: requests.Session | None = None


class PooledSender(AsyncRequestsHTTPSender):
    """msrest's requests driver with one session for every client, sending on the lane."""

    def __init__(self, config: Any = None) -> None:  # no session of its own to make
        self.config = config

    @property
    def session(self) -> requests.Session:
        with _Shared.lock:
            if _Shared.session is None:
                session = requests.Session()
                for prefix in self._protocols:
                    pooled = requests.adapters.HTTPAdapter(pool_maxsize=TEAMS_THREADS)
                    session.mount(prefix, pooled)
                self._init_session(session)  # msrest's retries and redirect handling
                _Shared.session = session
            return _Shared.session

    @session.setter
    def session(self, value: requests.Session) -> None:
        raise AttributeError("the connector session is shared")

    def close(self) -> None:
        """A client's end does not close the shared session."""

    async def send(  # type: ignore[override]  # msrest's async senders override it so too
        self, request: ClientRequest, **kwargs: Any
    ) -> AsyncRequestsClientResponse:
        options: dict[str, Any] = dict(self._configure_send(request, **kwargs))
        session: Any = options.pop("session", self.session)
        call = functools.partial(session.request, request.method, request.url, **options)
        try:
            response = await asyncio.get_running_loop().run_in_executor(_lane, call)
        except requests.RequestException as exc:
            raise ClientRequestError("Error occurred in request.", inner_exception=exc) from exc
        answer: AsyncRequestsClientResponse = AsyncRequestsClientResponse(  # type: ignore[no-untyped-call]
            request, response
        )
        return answer


def pool_connector_calls() -> None:
    """Make every connector client msrest builds from now on use ``PooledSender``
    (idempotent)."""
    setattr(async_client, "AsyncRequestsHTTPSender", PooledSender)  # noqa: B010
