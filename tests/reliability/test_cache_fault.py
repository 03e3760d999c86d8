"""Redis is killed while partners read rates, then comes back.

Rates keep being served (from PostgreSQL), readiness stays 200 and says
"degraded", cache errors are counted in /metrics, and the cache is filled
and used again once Redis returns.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis as redis_sync

from tests.reliability.helpers import (
    Api,
    Probe,
    probe_readiness,
    scrape,
    service_env,
    session_for,
    show_figures,
)
from tests.reliability.loadgen import run_load
from tests.running_service import running_service, wait_until_ready

pytestmark = pytest.mark.slow

RATE_KEY = "rate:current:INR"


async def test_redis_killed_under_load(database_url, own_redis, tmp_path: Path):
    env = service_env(database_url, own_redis.url, RATE_LIMIT_PER_MINUTE="100000")
    with running_service(env, tmp_path, workers=2) as service:
        wait_until_ready(service.base_url)
        async with session_for(service.base_url) as session:
            api = Api(session)
            partner = await api.partner("cachefault")
            rate = await api.publish_rate()

            def make(session, index):
                return session.get(service.base_url + "/v1/rates/current", headers=partner.headers)

            stop, probe = asyncio.Event(), Probe()
            prober = asyncio.create_task(probe_readiness(service.base_url, stop, probe))
            load = asyncio.create_task(
                run_load(
                    make, name="redis-killed", duration=40, concurrency=8, pause=0.01, stop=stop
                )
            )
            await asyncio.sleep(2)
            hits_before = await scrape(
                service.metrics_url, "cache_operations_total", 'result="hit"'
            )
            errors_before = await scrape(
                service.metrics_url, "cache_operations_total", 'result="error"'
            )

            fault_start = time.monotonic()
            own_redis.kill()
            await asyncio.sleep(5)
            hits_down = await scrape(service.metrics_url, "cache_operations_total", 'result="hit"')
            errors_down = await scrape(
                service.metrics_url, "cache_operations_total", 'result="error"'
            )

            restoring = time.monotonic()
            await asyncio.to_thread(own_redis.start)
            fault_end = time.monotonic()
            await asyncio.sleep(4)
            hits_back = await scrape(service.metrics_url, "cache_operations_total", 'result="hit"')
            errors_back = await scrape(
                service.metrics_url, "cache_operations_total", 'result="error"'
            )
            await asyncio.sleep(2)
            hits_end = await scrape(service.metrics_url, "cache_operations_total", 'result="hit"')
            stop.set()
            report = await load
            await prober
            ready_after = await api.call("GET", "/health/ready")

        client = redis_sync.Redis.from_url(own_redis.url)
        cached_again = client.get(RATE_KEY)
        client.close()

    during = report.between(fault_start, restoring)
    served_rates = {s.body["rate_id"] for s in report.samples if s.ok}
    ready_during = probe.during(fault_start + 1.5, restoring)
    show_figures(
        "\n"
        + report.summary(
            outage_s=round(fault_end - fault_start, 2),
            requests_during_outage=len(during),
            ok_during_outage=sum(s.ok for s in during),
            max_latency_during_outage_s=round(max((s.elapsed for s in during), default=0), 3),
            time_to_recover_s=report.time_to_recover(fault_end),
            cache_hits=f"{hits_before:.0f}->{hits_down:.0f}->{hits_back:.0f}->{hits_end:.0f}",
            cache_errors=f"{errors_before:.0f}->{errors_down:.0f}->{errors_back:.0f}",
            readiness_during_outage={f"{c}:{s}" for _, c, s in ready_during},
            readiness_after=ready_after.body["status"],
        )
    )
    # Rates never stopped: every request succeeded, promptly, with the right rate.
    assert report.failed == 0, report.statuses()
    assert served_rates == {rate["rate_id"]}
    assert during and max(s.elapsed for s in during) < 1.0
    # Readiness: up but degraded while Redis was gone, fully ready afterwards.
    assert ready_during and all(c == 200 and s == "degraded" for _, c, s in ready_during)
    assert ready_after.status == 200 and ready_after.body["status"] == "ready"
    # Errors were counted; Redis was used before, not during, and again after.
    assert errors_down > errors_before
    assert hits_before > 0
    assert hits_down - hits_before < 50, "hits while Redis was dead"
    assert hits_end > hits_back, "Redis is not used again after it returned"
    assert cached_again is not None and rate["rate_id"] in cached_again.decode()
