"""The admin API's problems: the service's errors, and its ports', mapped in one place to
problem+json (404 unknown symbol or account, 409 version conflict, immutable field or dividend
conflict, 422 what the rules refuse, 503 nothing reached the engine), and the responses every
admin route documents."""

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from exchange.admin.dispatch import Dispatch
from exchange.admin.errors import InvalidAdminRequest, NotAnEquity, UnknownAsset, UnknownShard
from exchange.domain.errors import InvalidInstrument, UnknownInstrument
from exchange.http.problems import HttpProblem, NotFound, responses
from exchange.instruments.errors import ImmutableField, VersionConflict
from exchange.ledger.errors import DividendConflict, InvalidDividend, UnknownAccount


class NotAnOperatorProblem(HttpProblem):
    """The caller is not in the operators' group (``exchange.admin.auth``)."""

    code = "not_an_operator"
    status = HTTPStatus.FORBIDDEN


class UnknownSymbol(NotFound):
    code = "unknown_symbol"


class AccountNotFound(NotFound):
    code = "unknown_account"


class Conflict(HttpProblem):
    code = "conflict"
    status = HTTPStatus.CONFLICT


class VersionConflictProblem(Conflict):
    code = "version_conflict"


class ImmutableFieldProblem(Conflict):
    code = "immutable_field"


class DividendConflictProblem(Conflict):
    code = "dividend_conflict"


class Refused(HttpProblem):
    """Well-formed, but the rules say no (``detail`` says which)."""

    code = "invalid_admin_request"
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class InvalidInstrumentProblem(Refused):
    code = "invalid_instrument"


class InvalidDividendProblem(Refused):
    code = "invalid_dividend"


class UnknownAssetProblem(Refused):
    code = "unknown_asset"


class UnknownShardProblem(Refused):
    code = "unknown_shard"


class NotAnEquityProblem(Refused):
    code = "not_an_equity"


class CommandsNotSent(HttpProblem):
    code = "broker_unavailable"
    status = HTTPStatus.SERVICE_UNAVAILABLE


class ListingNotPublished(HttpProblem):
    code = "listing_not_published"
    status = HTTPStatus.SERVICE_UNAVAILABLE


@contextmanager
def as_problems() -> Iterator[None]:
    try:
        yield
    except UnknownInstrument as exc:
        raise UnknownSymbol(str(exc)) from exc
    except UnknownAccount as exc:
        raise AccountNotFound(str(exc)) from exc
    except VersionConflict as exc:
        raise VersionConflictProblem(str(exc)) from exc
    except ImmutableField as exc:
        raise ImmutableFieldProblem(str(exc)) from exc
    except InvalidInstrument as exc:
        raise InvalidInstrumentProblem(str(exc)) from exc
    except DividendConflict as exc:
        raise DividendConflictProblem(str(exc)) from exc
    except InvalidDividend as exc:
        raise InvalidDividendProblem(str(exc)) from exc
    except UnknownAsset as exc:
        raise UnknownAssetProblem(str(exc)) from exc
    except UnknownShard as exc:
        raise UnknownShardProblem(str(exc)) from exc
    except NotAnEquity as exc:
        raise NotAnEquityProblem(str(exc)) from exc
    except InvalidAdminRequest as exc:
        raise Refused(str(exc)) from exc


def documented(success: int, description: str, *errors: int) -> dict[int, OpenAPIResponse]:
    """``responses``, with the 403 every admin route may answer described as what it is here."""
    answers = responses(success, description, 403, *errors)
    answers[403] = OpenAPIResponse(
        description="Not in the operators' Cognito group (not_an_operator)",
        content=answers[403]["content"],
    )
    return answers


def sent(dispatch: Dispatch) -> Dispatch:
    """503 when not one command could be sent (the audit entry of the attempt stays)."""
    if dispatch.nothing_sent:
        details = "; ".join(f"{s.symbol}: {s.detail}" for s in dispatch.commands)
        raise CommandsNotSent(f"no command reached the engine, send the request again ({details})")
    return dispatch
