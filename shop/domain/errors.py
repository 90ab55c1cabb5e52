"""Domain exceptions. The web layer maps each family to one HTTP status, in one place.

Messages are English message ids marked with `N_` (extracted by Babel, translated at the edge),
with named `%(param)s` placeholders filled from `params`.
"""


def N_(message: str) -> str:
    """Mark a message for translation without translating it here (the domain knows no locale)."""
    return message


class DomainError(Exception):
    """Base class; the message is shown to the person, so it must say what to do."""

    def __init__(self, template: str, **params):
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params


class InvalidInput(DomainError):
    """The request is malformed (HTTP 400)."""


class NotFound(DomainError):
    """The thing asked for does not exist, or is not yours (HTTP 404)."""


class Conflict(DomainError):
    """The request clashes with the current state, e.g. a duplicate e-mail (HTTP 409)."""


class LimitReached(Conflict):
    """Too many of something at once (unpaid orders, payment attempts); says when or how to go on (HTTP 429)."""


class InvalidCredentials(DomainError):
    """Login failed; deliberately says nothing about which part was wrong (HTTP 401)."""


class NotActivated(InvalidCredentials):
    """Right password, but the account's activation link was never followed (HTTP 401)."""


class Unavailable(DomainError):
    """A database did not answer; the message says what is known for certain (HTTP 503)."""
