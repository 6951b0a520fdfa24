"""The one place where httpx exceptions become ``StreamError``: every call into httpx made by the
client catches :data:`HTTPX_ERRORS` and hands the exception to :func:`translate`.

:data:`HTTPX_ERRORS` holds the roots of every exception class httpx defines, and
:func:`translate` ends in a catch-all for each root, so no httpx type can reach a caller or
``err()``. It also says which failures are safe to send again (:func:`request_never_sent`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from ..errors import APIError, ConnectionLost, ProtocolError, StreamError, StreamTimeout, TransportError

__all__ = ["HTTPX_ERRORS", "request_never_sent", "translate", "undecodable_encoding"]

#: The root classes of every exception httpx raises (httpx.StreamError is not an HTTPError).
HTTPX_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.CookieConflict,
    httpx.StreamError,
)

TimeoutFor = Callable[[httpx.TimeoutException], StreamTimeout]


def translate(exc: Exception, url: str, *, mid_stream: bool, timeout_for: TimeoutFor) -> StreamError:
    """The typed error for an httpx exception, raised before the response (``mid_stream=False``) or
    while reading its body; ``timeout_for`` decides which deadline a timeout was."""
    where = "mid-stream" if mid_stream else "before the server answered"
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return timeout_for(exc)
    if isinstance(exc, httpx.DecodingError):
        return ProtocolError(
            f"the body from {url} could not be decompressed {where} ({detail}); "
            "the server sent a corrupt compressed body"
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return APIError(f"{url} redirected too many times (a redirect loop?): {detail}")
    if isinstance(exc, httpx.ConnectError):
        return ConnectionLost(f"could not connect: {detail}", url)
    if isinstance(exc, httpx.ProxyError):
        return ConnectionLost(f"the proxy failed: {detail}", url)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return TransportError(f"cannot request {url}: {detail}; use an http:// or https:// base_url")
    if isinstance(exc, httpx.RemoteProtocolError) and not mid_stream:
        return ConnectionLost(f"the server closed the connection before answering: {detail}", url)
    if isinstance(exc, httpx.TransportError):
        lost = "connection lost mid-stream" if mid_stream else "request failed"
        return ConnectionLost(f"{lost}: {detail}", url)
    if isinstance(exc, httpx.InvalidURL):
        return TransportError(f"invalid URL {url!r}: {detail}")
    if isinstance(exc, httpx.HTTPStatusError):
        return APIError(f"{url} answered status {exc.response.status_code}: {detail}")
    # RequestError, HTTPError, CookieConflict, httpx.StreamError and whatever httpx adds below them.
    return TransportError(f"HTTP client failure {where} for {url}: {detail}")


def request_never_sent(exc: Exception) -> bool:
    """True if the request provably never reached the server, so sending it again cannot duplicate it.

    Only a failed connect (refused, unreachable, TLS handshake, connect timeout) qualifies; a
    connection that was accepted and then closed may already have run the request. A pool timeout
    never sent it either, but is not worth another wait: its error says to close streams instead.
    """
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


def supported_encodings() -> frozenset[str]:
    """The content encodings httpx can decode here (``br`` only with brotli installed)."""
    try:
        from httpx._decoders import SUPPORTED_DECODERS
    except ImportError:  # pragma: no cover - httpx moved its private table; assume the core set
        return frozenset({"identity", "gzip", "deflate"})
    return frozenset(SUPPORTED_DECODERS)


def undecodable_encoding(headers: Mapping[str, str], url: str) -> StreamError | None:
    """The error for a body in a content encoding httpx cannot decode (it would pass it on as is)."""
    value = headers.get("content-encoding", "")
    supported = supported_encodings()
    for token in value.split(","):
        name = token.strip().lower()
        if name and name not in supported:
            hint = " (install brotli: pip install brotli)" if name == "br" else ""
            return ProtocolError(
                f"{url} sent its body with content-encoding {name!r}, which this client cannot "
                f"decode{hint}; it decodes {', '.join(sorted(supported))}"
            )
    return None
