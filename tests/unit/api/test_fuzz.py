"""Schemathesis over the generated OpenAPI document, in process: a WSGI adapter turns each
request into an API Gateway event for the catalog's handler (over in-memory fakes). Every
response must be a non-5xx that conforms to the document (status, content type, schema), an
undeclared method must get 405, and a missing or invalid token 401.

One check is left out: positive data acceptance expects every schema-valid request to succeed,
but the document cannot express the instrument rules (each symbol's tick and lot), nor which
cursors this API issued, so a schema-valid order can rightly be refused with a 400 problem.
"""

import warnings

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.unit.api.conftest import ALICE, make_exchange
from tests.unit.api.gateway import wsgi_app

EXCHANGE = make_exchange()
with warnings.catch_warnings():
    # Fetching the document through the markets handler emits no metric; Powertools warns.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", wsgi_app(EXCHANGE, tokens=[ALICE]))


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate(
        headers={"Authorization": ALICE}, excluded_checks=[positive_data_acceptance]
    )
