"""Errors of a Sightline cluster, one class per wire error code (Proto/sightline.proto `ErrorCode`)."""


class SightlineError(Exception):
    """A request the cluster refused or could not answer. `code` is the wire code's name."""

    code = "INTERNAL"
    retryable = False

    def __init__(self, message, committed_ids=()):
        super().__init__(message)
        self.message = message
        # A failed add: the ids that were stored everywhere they had to be.
        self.committed_ids = list(committed_ids)

    def __str__(self):
        return f"{self.code}: {self.message}"


class BadRequest(SightlineError):
    """The request is malformed or out of range: fix it (wrong dimension, NaN, k too large, ...)."""
    code = "BAD_REQUEST"


class Unauthorized(SightlineError):
    """Wrong or missing token."""
    code = "UNAUTHORIZED"


class Forbidden(Unauthorized):
    """A valid token whose role may not send this request (a read token sending an add). A kind of
    `Unauthorized`, so code that catches that catches this too."""
    code = "FORBIDDEN"


class NotFound(SightlineError):
    """Unknown collection or id."""
    code = "NOT_FOUND"


class Unavailable(SightlineError):
    """A worker or the store cannot serve now: retry later (adds and deletes are idempotent)."""
    code = "UNAVAILABLE"
    retryable = True


class DeadlineExceeded(SightlineError):
    code = "DEADLINE_EXCEEDED"
    retryable = True


class Conflict(SightlineError):
    """Codebook version or cluster mismatch."""
    code = "CONFLICT"


class Internal(SightlineError):
    code = "INTERNAL"


class UnsupportedVersion(SightlineError):
    code = "UNSUPPORTED_VERSION"


class TransportError(SightlineError):
    """The coordinator could not be reached or did not answer in time (nothing was refused)."""
    code = "TRANSPORT"
    retryable = True


BY_CODE = {cls.code: cls for cls in (BadRequest, Unauthorized, Forbidden, NotFound, Unavailable, DeadlineExceeded, Conflict, Internal,
                                     UnsupportedVersion)}
