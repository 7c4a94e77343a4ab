"""The client's one HTTP client: bearer token, problem+json errors, Idempotency-Keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec

from schema.base import FieldError, Problem


@dataclass
class ApiError(Exception):
    """A problem+json answer (4xx/5xx) — or status 0 when the network failed."""

    status: int
    title: str
    type: str = ""
    errors: list[FieldError] = field(default_factory=list)
    detail: str | None = None

    @property
    def slug(self) -> str:
        """The problem's stable name (the last part of its `type` URI), e.g. "slot-taken"; "" if none."""
        return self.type.rstrip("/").rsplit("/", 1)[-1] if self.type else ""

    @property
    def offline(self) -> bool:
        return self.status == 0

    def __str__(self) -> str:
        fields = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        text = self.detail or self.title
        return f"{text} ({fields})" if fields else text


# What a view model reports as its last error: the server's problem, or a translation key for a
# refusal decided on the device (e.g. "select_hospital"). Views put it into words (i18n.Translator).
Failure = ApiError | str


class MusubiApi:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None
        # The server names a session by its User-Agent: the web client passes on the person's browser's,
        # so their sessions list reads "Chrome · Android", not the HTTP library of our server.
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            headers={"User-Agent": user_agent} if user_agent else None,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Sends with the caller's token; a failure becomes an ApiError carrying the problem's fields."""
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"No connection ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            try:
                problem = msgspec.json.decode(response.content, type=Problem)
            except msgspec.DecodeError:  # not problem+json (a proxy's error page): the status says enough
                problem = Problem(type="", title=response.reason_phrase, status=response.status_code)
            raise ApiError(response.status_code, problem.title, problem.type, problem.errors or [], problem.detail)
        return response

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotency_key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = await self._send(method, path, json=body, headers=headers, params=params)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def upload(self, path: str, content: bytes, media_type: str) -> Any:
        """A raw body (e.g. a photo), not JSON."""
        return (await self._send("POST", path, content=content, headers={"Content-Type": media_type})).json()

    async def download(self, path: str) -> bytes:
        """A body that is not JSON (e.g. an iCalendar file)."""
        return (await self._send("GET", path)).content

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    async def get_page(self, path: str, **params: Any) -> tuple[Any, str | None]:
        """One page of a list, and the opaque cursor of the next from its `Link: <…>; rel="next"`
        header (None on the last page). Cursors are the server's to make: never build one."""
        query = {k: v for k, v in params.items() if v is not None} or None
        response = await self._send("GET", path, params=query)
        following = response.links.get("next", {}).get("url")
        cursor = parse_qs(urlsplit(following).query).get("cursor", [None])[0] if following else None
        return response.json(), cursor

    async def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        return await self.request("POST", path, body if body is not None else {}, idempotency_key=idempotency_key)

    async def put(self, path: str, body: Any) -> Any:
        return await self.request("PUT", path, body)
