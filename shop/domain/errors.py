"""Domain exceptions. The web layer maps each family to one HTTP status, in one place.

Messages are English message ids marked with `N_` (extracted by Babel, translated at the edge),
with named `%(param)s` placeholders filled from `params`. A message whose wording depends on a number
is a pair marked with `Nn_` (singular, plural) and a `num` parameter: the edge chooses the form the
language needs (ngettext), so no message says "1 pedidos".
"""


def N_(message: str) -> str:
    """Mark a message for translation without translating it here (the domain knows no locale)."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with plural forms (chosen at the edge by the error's `num` parameter)."""
    return singular, plural


class DomainError(Exception):
    """Base class; the message is shown to the person, so it must say what to do. `code` is the
    stable, untranslated name of the kind of error that programs read (the JSON error's `code`)."""

    code = "invalid"

    def __init__(self, template: str | tuple[str, str], **params: object):
        singular, plural = (template, None) if isinstance(template, str) else template
        english = plural if plural is not None and params.get("num") != 1 else singular
        super().__init__(english % params if params else english)
        self.template = singular
        self.plural = plural
        self.params = params


class InvalidInput(DomainError):
    """The request is malformed (HTTP 400)."""

    code = "invalid_input"


class InvalidFields(InvalidInput):
    """Several fields of one form are wrong at once: `problems` holds each field's own error, so a
    form can mark every one of them (its message is the first one's)."""

    def __init__(self, problems: dict[str, InvalidInput]):
        first = next(iter(problems.values()))
        super().__init__(first.template if first.plural is None else (first.template, first.plural), **first.params)
        self.problems = problems


class NotFound(DomainError):
    """The thing asked for does not exist, or is not yours (HTTP 404)."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state, e.g. a duplicate e-mail (HTTP 409)."""

    code = "conflict"


class LimitReached(Conflict):
    """Too many of something at once (unpaid orders, payment attempts); says when or how to go on (HTTP 429)."""

    code = "limit_reached"


class InvalidCredentials(DomainError):
    """Login failed; deliberately says nothing about which part was wrong (HTTP 401)."""

    code = "invalid_credentials"


class NotActivated(InvalidCredentials):
    """Right password, but the account's activation link was never followed (HTTP 401)."""

    code = "not_activated"


class Unavailable(DomainError):
    """A database did not answer; the message says what is known for certain (HTTP 503)."""

    code = "unavailable"
