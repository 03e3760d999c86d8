"""SIGTERM to the gunicorn master under load: requests already accepted finish with 200,
no new ones are accepted, and the master exits within the grace period the
Kubernetes manifest gives the pod."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.reliability.helpers import REPO, Api, scrape, service_env, session_for, show_figures
from tests.reliability.loadgen import run_load
from tests.running_service import running_service, wait_until_ready

pytestmark = pytest.mark.slow

BASE = REPO / "kustomize" / "base" / "backend"


def manifest_timing() -> tuple[int, int]:
    """(GRACEFUL_TIMEOUT_SECONDS from the base config, terminationGracePeriodSeconds)."""
    config = dict(
        line.split("=", 1)
        for line in (BASE / "config.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    graceful = int(config["GRACEFUL_TIMEOUT_SECONDS"])
    docs = list(yaml.safe_load_all((BASE / "deployment.yaml").read_text()))
    deployment = next(d for d in docs if d and d.get("kind") == "Deployment")
    termination = int(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])
    return graceful, termination


def test_manifest_leaves_room_for_the_graceful_timeout():
    graceful, termination = manifest_timing()
    docs = list(yaml.safe_load_all((BASE / "deployment.yaml").read_text()))
    deployment = next(d for d in docs if d and d.get("kind") == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pre_stop_seconds = 0
    if "sleep" in pre_stop:
        pre_stop_seconds = int(pre_stop["sleep"]["seconds"])
    elif "exec" in pre_stop:
        numbers = [int(w) for w in pre_stop["exec"]["command"] if str(w).isdigit()]
        pre_stop_seconds = max(numbers, default=0)
    show_figures(
        f"\ngraceful_timeout={graceful}s preStop={pre_stop_seconds}s "
        f"terminationGracePeriodSeconds={termination}s"
    )
    # kubelet's budget covers preStop, then SIGTERM; gunicorn needs graceful_timeout after it.
    assert pre_stop_seconds + graceful < termination


def _refuses_connections(port: int, within: float) -> float | None:
    """Seconds until a new TCP connection to the port is refused; None if never."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            return time.monotonic() - started
        time.sleep(0.02)
    return None


async def test_sigterm_lets_accepted_requests_finish(own_postgres, tmp_path: Path):
    graceful, termination = manifest_timing()
    env = service_env(
        own_postgres.url(),
        None,
        GRACEFUL_TIMEOUT_SECONDS=str(graceful),
        RATE_LIMIT_PER_MINUTE="1000000",
    )
    with running_service(env, tmp_path, workers=2) as service:
        wait_until_ready(service.base_url)
        async with session_for(service.base_url) as session:
            api = Api(session)
            partner = await api.partner("graceful")
            user = await api.user(partner, "u-graceful", kyc=False)
        path = f"/v1/users/{user['id']}"
        port = int(service.base_url.rsplit(":", 1)[1])

        # Hold requests inside the service: PostgreSQL hangs (SIGSTOP), so every
        # request is accepted, parsed and waiting on the database.
        held = 24
        own_postgres.freeze()
        try:
            connector = aiohttp.TCPConnector(force_close=True, limit=held)
            async with aiohttp.ClientSession(
                base_url=service.base_url,
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=graceful + 10),
            ) as session:
                api = Api(session)
                tasks = [
                    asyncio.create_task(api.call("GET", path, headers=partner.headers))
                    for _ in range(held)
                ]
                deadline = time.monotonic() + 5
                in_flight = 0.0
                while time.monotonic() < deadline:
                    in_flight = await scrape(service.metrics_url, "http_requests_in_flight")
                    if in_flight >= held:
                        break
                    await asyncio.sleep(0.05)
                assert in_flight >= held, f"only {in_flight} of {held} requests reached the service"

                signalled = time.monotonic()
                service.process.send_signal(signal.SIGTERM)
                refused_after = await asyncio.to_thread(_refuses_connections, port, 3.0)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - signalled)))
                own_postgres.thaw()
                thawed = time.monotonic()
                replies = await asyncio.gather(*tasks)
                drained = time.monotonic() - thawed
        finally:
            own_postgres.thaw()

        code = await asyncio.to_thread(service.process.wait, graceful + 5)
        exited_after = time.monotonic() - signalled
        statuses = sorted(r.status for r in replies)
        show_figures(
            f"\n[graceful-shutdown] held={held} in_flight_at_signal={in_flight:.0f} "
            f"succeeded={statuses.count(200)} failed={held - statuses.count(200)} "
            f"new_connections_refused_after={refused_after and round(refused_after, 3)}s "
            f"drained_after_db_back={drained:.3f}s exit_code={code} "
            f"exit_after_signal={exited_after:.2f}s graceful_timeout={graceful}s "
            f"terminationGracePeriodSeconds={termination}s"
        )
        assert statuses == [200] * held, statuses
        assert all(r.body["id"] == user["id"] for r in replies)
        assert refused_after is not None, "the service kept accepting connections after SIGTERM"
        assert code == 0
        assert exited_after < graceful


async def test_sigterm_under_steady_load(own_postgres, tmp_path: Path):
    """Keep-alive clients hammering the service while it stops: every request that got
    a response got a complete, successful one; none hangs; the exit is prompt."""
    graceful, termination = manifest_timing()
    env = service_env(
        own_postgres.url(),
        None,
        GRACEFUL_TIMEOUT_SECONDS=str(graceful),
        RATE_LIMIT_PER_MINUTE="1000000",
    )
    with running_service(env, tmp_path, workers=2) as service:
        wait_until_ready(service.base_url)
        async with session_for(service.base_url) as session:
            api = Api(session)
            partner = await api.partner("steady")
            user = await api.user(partner, "u-steady", kyc=False)

        def make(session, index):
            return session.get(
                service.base_url + f"/v1/users/{user['id']}", headers=partner.headers
            )

        stop = asyncio.Event()
        load = asyncio.create_task(
            run_load(
                make,
                name="sigterm-steady",
                duration=15,
                concurrency=16,
                stop=stop,
                request_timeout=graceful + 5,
            )
        )
        await asyncio.sleep(1.5)
        signalled = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(service.process.wait, graceful + 5)
        exited_after = time.monotonic() - signalled
        stop.set()
        report = await load

    before = [s for s in report.samples if s.finished < signalled]
    straddling = [s for s in report.samples if s.started < signalled <= s.finished]
    after = [s for s in report.samples if s.started >= signalled]
    answered = [s for s in report.samples if s.status is not None]
    show_figures(
        "\n"
        + report.summary(
            before_signal=len(before),
            in_flight_at_signal=len(straddling),
            in_flight_ok=sum(s.ok for s in straddling),
            after_signal=len(after),
            after_signal_statuses={str(s.status or s.error) for s in after},
            exit_code=code,
            exit_after_signal=round(exited_after, 2),
            graceful_timeout=graceful,
            termination_grace=termination,
        )
    )
    assert before and all(s.ok for s in before)
    # Any HTTP answer at all, even during the shutdown, is a complete success.
    assert all(s.ok for s in answered), {s.status for s in answered}
    # Requests on the wire at SIGTERM were either served, or never read by a worker
    # (the connection was refused/closed with no response: the client may retry safely).
    assert all(s.ok or s.status is None for s in straddling)
    assert code == 0
    # W-5 (docs/reliability.md): under non-stop keep-alive traffic a worker sometimes
    # waits out the whole graceful timeout; the pod still ends within its grace period.
    assert exited_after < termination
