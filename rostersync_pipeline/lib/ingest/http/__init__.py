"""HTTP for provider APIs: a retrying client and one paginator per pagination style."""

from rostersync_pipeline.lib.ingest.http.client import (
    BearerAuth,
    HttpClient,
    HttpError,
    OAuth2ClientCredentials,
    Page,
    PageError,
    RetryPolicy,
    redact_url,
)
from rostersync_pipeline.lib.ingest.http.paginators import (
    BasePaginator,
    JsonLinksCursorPaginator,
    OffsetPaginator,
    PageRequest,
    PaginationError,
)

__all__ = [
    "BearerAuth",
    "BasePaginator",
    "HttpClient",
    "HttpError",
    "JsonLinksCursorPaginator",
    "OAuth2ClientCredentials",
    "OffsetPaginator",
    "Page",
    "PageError",
    "PageRequest",
    "PaginationError",
    "RetryPolicy",
    "redact_url",
]
