"""HTTP answers read up to limits.HTTP_CAP: an httpx transport whose bodies stop there.

Every client cookcam-ops opens (health, the probe, the polling handshake, the sign-in) uses it,
so an answer that never ends, or ends after gigabytes, costs a megabyte and fails as a transport
error (`AnswerTooLarge`) that the checks report like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cookcam_ops.limits import HTTP_CAP


def capped_client(**kwargs: Any) -> Any:
    """httpx.Client(**kwargs) on a transport that caps every answer's body (and takes `limits`)."""
    import httpx

    class AnswerTooLarge(httpx.TransportError):
        """The answer's body was larger than limits.HTTP_CAP."""

    class Capped(httpx.SyncByteStream):
        def __init__(self, inner: httpx.SyncByteStream) -> None:
            self.inner = inner

        def __iter__(self) -> Iterator[bytes]:
            seen = 0
            for chunk in self.inner:
                seen += len(chunk)
                if seen > HTTP_CAP:
                    raise AnswerTooLarge(f"the answer is larger than {HTTP_CAP // 1024} KiB")
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class CappedTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = Capped(response.stream)
            return response

    limits = kwargs.pop("limits", None)
    transport = CappedTransport(limits=limits) if limits is not None else CappedTransport()
    return httpx.Client(transport=transport, **kwargs)
