"""The Swagger UI page (/v1/docs) as a browser renders it: headless Chromium
against the real server (`gold-platform serve`), asserting on the text a
reader sees. `make api-docs-check` installs Chromium (Debian) when missing and
runs only this; without Chromium the test is skipped, saying so."""

from __future__ import annotations

import json

import pytest

from gold_platform.http.openapi import OPERATIONS
from tests.browser import chromium, chromium_path
from tests.reliability.helpers import service_env
from tests.running_service import running_service, wait_until_ready

pytestmark = pytest.mark.slow

CHROMIUM = chromium_path()

# Opens what is closed, and keeps opening what that reveals, until nothing is left.
EXPAND = """(async (root) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const scope = document.querySelector(root);
  for (let round = 0; round < 20; round++) {
    const closed = [
      ...[...scope.querySelectorAll('.opblock:not(.is-open) > .opblock-summary .opblock-summary-control')],
      ...[...scope.querySelectorAll('.json-schema-2020-12-expand-deep-button')]
          .filter(b => b.innerText.trim() === 'Expand all'),
      ...[...scope.querySelectorAll('.models:not(.is-open) .models-control')],
    ];
    if (!closed.length) return round;
    closed.forEach(b => b.click());
    await sleep(200);
  }
  return -1;
})"""


def text_of(selector: str) -> str:
    return (
        f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.innerText).join('\\n')"
    )


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: make api-docs-check installs it")
async def test_the_docs_page_renders_the_key_hint_the_trade_choices_and_examples(
    database_url, redis_url, tmp_path
):
    env = service_env(database_url, redis_url)
    with running_service(env, tmp_path, workers=1) as service:
        wait_until_ready(service.base_url)
        async with chromium(CHROMIUM) as page:
            await page.goto(service.url("/v1/docs"))
            count = len(OPERATIONS)
            await page.wait_for(
                f"document.querySelectorAll('.opblock').length === {count}",
                f"its {count} operations",
            )

            # The key's shape, in the Authorize dialog: not eaten as HTML tags.
            await page.evaluate("document.querySelector('.btn.authorize').click()")
            dialog = await page.wait_for(text_of(".dialog-ux .auth-container"), "Authorize")
            assert "gp_<id>_<secret>" in dialog, dialog
            assert "gp__" not in dialog
            await page.evaluate("document.querySelector('.dialog-ux .close-modal').click()")

            # The trade request: an example to start from, and two named alternatives.
            buy = "#operations-partner-verifyBuy"
            await page.evaluate(f"document.querySelector('{buy} .opblock-summary-control').click()")
            example = await page.wait_for(
                text_of(f"{buy} .opblock-section-request-body .microlight"), "a trade example"
            )
            body = json.loads(example)
            assert body["amount"] == "1000.00" and body["user_id"].count("-") == 4, body
            await page.evaluate(
                f"document.querySelector('{buy} .opblock-section-request-body"
                " button.tablinks[data-name=model]').click()"
            )
            await page.wait_for(
                text_of(f"{buy} .opblock-section-request-body") + ".includes('TradeRequest')",
                "the trade request's schema",
            )
            await page.evaluate(f"{EXPAND}('{buy} .opblock-section-request-body')")
            schema = await page.wait_for(
                text_of(f"{buy} .opblock-section-request-body"), "the trade request's schema"
            )
            assert "Trade by amount" in schema and "Trade by grams" in schema, schema
            assert "(any | any)" not in schema, schema

            # Every operation open: examples give a currency and a tax rate, and
            # no schema or description renders the broken forms.
            assert await page.evaluate(f"{EXPAND}('#ui')") >= 0
            await page.wait_for(
                text_of(".opblock-section-request-body, .responses-wrapper")
                + '.includes(\'"tax_rate": "0.03"\')',
                "the examples of every operation",
            )
            examples = await page.evaluate(text_of(".microlight"))
            assert '"currency": "INR"' in examples, examples
            assert '"tax_rate": "0.03"' in examples
            for field in ("currency", "tax_rate", "user_id", "rate_id", "amount", "grams"):
                assert f'"{field}": "string"' not in examples, field
            everything = await page.evaluate("document.body.innerText")
            assert "gp__" not in everything
            assert "(any | any)" not in everything
            assert "object | (any" not in everything
