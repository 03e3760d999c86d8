"""Every route of the service, in one place."""

from __future__ import annotations

from aiohttp import web

from .http import admin, docs, health, rates, transactions, users

API_ROUTES = {
    ("POST", "/v1/admin/partners"): admin.create_partner,
    ("POST", "/v1/admin/rates"): rates.publish,
    ("GET", "/v1/admin/reconciliation"): admin.reconciliation,
    ("GET", "/v1/rates/current"): rates.current,
    ("GET", "/v1/rates/history"): rates.history,
    ("POST", "/v1/users"): users.create,
    ("GET", "/v1/users/{user_id}"): users.get,
    ("POST", "/v1/users/{user_id}/kyc"): users.attest_kyc,
    ("GET", "/v1/users/{user_id}/portfolio"): users.portfolio,
    ("GET", "/v1/users/{user_id}/transactions"): users.history,
    ("POST", "/v1/transactions/buy"): transactions.verify_buy,
    ("POST", "/v1/transactions/sell"): transactions.verify_sell,
    ("GET", "/v1/transactions/{transaction_id}"): transactions.get,
    ("POST", "/v1/transactions/{transaction_id}/confirm"): transactions.confirm,
    ("POST", "/v1/transactions/{transaction_id}/cancel"): transactions.cancel,
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", health.live, name="health")
    app.router.add_get("/health/ready", health.ready, name="ready")
    for (method, path), handler in API_ROUTES.items():
        app.router.add_route(method, path, handler)
    docs.add_routes(app)
