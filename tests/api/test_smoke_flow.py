"""The README's worked example, end to end: partner, user, rate, buy, confirm, portfolio."""

from decimal import Decimal


async def test_buy_confirm_portfolio(api, partner, rate):
    user = await api.user(partner, "alice")
    assert user["balance_grams"] == "0.0000"
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="1000.00")
    assert tx["status"] == "pending"
    # buy_price_with_tax = ceil(6000 * 1.03) = 6180.00; grams = floor4(1000 / 6180) = 0.1618
    assert rate["buy_price_with_tax"] == "6180.00"
    assert tx["grams"] == "0.1618"
    assert tx["total_amount"] == "1000.00"
    assert Decimal(tx["pre_tax_amount"]) + Decimal(tx["tax_amount"]) == Decimal("1000.00")

    done = await api.confirm(partner, tx["id"])
    assert done["status"] == "confirmed"
    assert done["settled_at"] is not None

    portfolio = await api.call(
        "GET", f"/v1/users/{user['id']}/portfolio", headers=partner.headers, expect=200
    )
    assert portfolio["grams"] == "0.1618"
    assert portfolio["invested_amount"] == "1000.00"
    # floor2(0.1618 * 5800) = 938.44
    assert portfolio["current_value"] == "938.44"
    assert portfolio["unrealised_pnl"] == "-61.56"
    assert portfolio["average_buy_price"] == "6180.47"  # 1000 / 0.1618

    report = await api.reconcile()
    assert report["balanced"] is True
    assert report["user_grams"] == "0.1618"
    assert report["vault_grams"] == "-0.1618"
