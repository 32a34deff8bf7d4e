"""Python client of a Sightline cluster (protobuf over nng, numpy in and out)."""

from .client import NO_ID, AddResult, Client, IdentifyResult, SearchResult, VerifyResult
from .errors import (BadRequest, Conflict, DeadlineExceeded, Forbidden, Internal, NotFound, SightlineError, TransportError,
                     Unauthorized, Unavailable, UnsupportedVersion)

__all__ = ["Client", "SearchResult", "AddResult", "VerifyResult", "IdentifyResult", "NO_ID", "SightlineError", "BadRequest",
           "Unauthorized", "Forbidden", "NotFound", "Unavailable", "DeadlineExceeded", "Conflict", "Internal", "UnsupportedVersion",
           "TransportError"]
