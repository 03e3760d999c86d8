"""Every route of the service, in one place.

The OpenAPI document (http/openapi.yaml) says each operation's method, path,
parameters and body; this maps each operationId to its handler. Every handler
is called only once its request matches the document (http/validation.py).
"""

from __future__ import annotations

from aiohttp import web

from .http import admin, docs, health, rates, transactions, users
from .http.openapi import OPERATIONS
from .http.validation import Handler, validated

HANDLERS: dict[str, Handler] = {
    "createPartner": admin.create_partner,
    "publishRate": rates.publish,
    "reconcile": admin.reconciliation,
    "getCurrentRate": rates.current,
    "getRateHistory": rates.history,
    "createUser": users.create,
    "getUser": users.get,
    "attestKyc": users.attest_kyc,
    "getPortfolio": users.portfolio,
    "listTransactions": users.history,
    "verifyBuy": transactions.verify_buy,
    "verifySell": transactions.verify_sell,
    "getTransaction": transactions.get,
    "confirmTransaction": transactions.confirm,
    "cancelTransaction": transactions.cancel,
}

# (METHOD, path) -> handler, as the document places each operation.
API_ROUTES: dict[tuple[str, str], Handler] = {
    key: HANDLERS[operation["operationId"]] for key, operation in OPERATIONS.items()
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", health.live, name="health")
    app.router.add_get("/health/ready", health.ready, name="ready")
    for (method, path), operation in OPERATIONS.items():
        handler = HANDLERS[operation["operationId"]]
        app.router.add_route(method, path, validated(method, path, operation, handler))
    docs.add_routes(app)
