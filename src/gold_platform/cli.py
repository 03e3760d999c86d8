"""`gold-platform`: the one entry point for operators, containers and developers."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"gold-platform: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import prepare_metrics_dir, serve

    prepare_metrics_dir()  # before anything imports prometheus_client
    serve(_settings())
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    os.environ.setdefault("LOG_FORMAT", "console")
    os.environ.setdefault("HOST", "127.0.0.1")  # a development server stays on this machine
    exports = {}
    if not os.environ.get("OPERATOR_API_KEY"):
        os.environ["OPERATOR_API_KEY"] = "dev-operator-" + secrets.token_urlsafe(18)
        print(f"operator key (this run only): {os.environ['OPERATOR_API_KEY']}")
    exports["GOLD_OPERATOR_KEY"] = os.environ["OPERATOR_API_KEY"]
    settings = _settings()
    if args.migrate and cmd_migrate(argparse.Namespace(rollback=False, count=1, wait=0.0)):
        return 1
    if args.partner:
        partner_key = _create_partner(settings, args.partner, if_missing=True)
        if partner_key:
            exports["GOLD_PARTNER_KEY"] = partner_key
    if args.env_file:
        exports["GOLD_DATABASE_URL"] = settings.database_url
        path = Path(args.env_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)  # also when it is left from an earlier run
        path.write_text("".join(f"export {name}={value}\n" for name, value in exports.items()))
        print(f"keys and database URL written to {path} (load them with: . {path})")
    feed = None
    if args.feed:
        feed = subprocess.Popen([sys.executable, "-m", "gold_platform.cli", "feed"])
    from .server import serve_dev

    try:
        serve_dev(settings)
    finally:
        if feed is not None:
            feed.terminate()
            feed.wait(timeout=10)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import migrations
    from .observability.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        migrations.wait_for_database(settings.database_url, args.wait)
    except migrations.DatabaseUnavailable as exc:
        print(f"gold-platform migrate: {exc}", file=sys.stderr)
        return 1
    if args.rollback:
        done = migrations.rollback(settings.database_url, settings.migrations_dir, args.count)
        print(f"rolled back: {', '.join(done) or 'nothing'}")
    else:
        done = migrations.apply(settings.database_url, settings.migrations_dir)
        print(f"applied: {', '.join(done) or 'nothing (at head)'}")
    return 0


def _run_async(main):
    """Runs the coroutine; its result, or None after Ctrl-C."""
    import asyncio

    try:
        return asyncio.run(main)
    except KeyboardInterrupt:
        return None


def _create_partner(settings, name: str, *, if_missing: bool) -> str | None:
    """Creates the partner and prints its key; returns it (None if it existed)."""

    async def main() -> str | None:
        from . import db
        from .store import partners

        pool = await db.create_pool(settings)
        try:
            async with db.transaction(pool) as cur:
                if if_missing and await partners.exists_by_name(cur, name):
                    print(f"partner {name!r} exists; its key was shown when it was created")
                    return None
                row, key = await partners.create(cur, name)
        finally:
            pool.close()
            await pool.wait_closed()
        print(f"partner {row['name']!r} id={row['id']}")
        print(f"api key (shown once, store it now): {key.token}")
        return key.token

    return _run_async(main())


def cmd_create_partner(args: argparse.Namespace) -> int:
    _create_partner(_settings(), args.name, if_missing=args.if_missing)
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    """Publishes a simulated rate every --interval seconds (development only)."""
    settings = _settings()
    from .observability.logs import configure_logging, get_logger

    configure_logging(settings.log_level, settings.log_format)
    log = get_logger("gold_platform.feed")

    async def main() -> None:
        import asyncio
        import itertools

        from . import db
        from .cache import Cache
        from .domain.errors import DomainError
        from .domain.feed import random_walk
        from .services.rates import publish

        pool = await db.create_pool(settings)
        cache = Cache.from_url(settings.redis_url)
        walk = random_walk(args.seed, tax_rate=settings.buy_tax_rate)
        try:
            for prices in itertools.islice(walk, args.count):
                try:
                    # The operator's API publishes through the same rules.
                    rate = await publish(
                        pool,
                        cache,
                        currency=settings.currency,
                        buy_price=prices.buy_price,
                        sell_price=prices.sell_price,
                        tax_rate=prices.tax_rate,
                        valid_seconds=settings.rate_validity_seconds,
                        source=f"simulated-feed:{args.seed}",
                    )
                except DomainError as refused:  # nothing was stored; the next tick may do
                    log.warning(
                        "rate_refused",
                        reason=refused.message,
                        buy=f"{prices.buy_price:f}",
                        sell=f"{prices.sell_price:f}",
                    )
                    await asyncio.sleep(args.interval)
                    continue
                log.info(
                    "rate_published",
                    rate_id=rate["rate_id"],
                    buy=rate["buy_price"],
                    sell=rate["sell_price"],
                )
                await asyncio.sleep(args.interval)
        finally:
            pool.close()
            await pool.wait_closed()
            await cache.close()

    _run_async(main())
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    url = args.url or f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/health"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gold-platform", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="production server (gunicorn, WEB_CONCURRENCY workers)"
    )
    serve.set_defaults(func=cmd_serve)

    dev = commands.add_parser("dev", help="development server with reload on code change")
    dev.add_argument("--migrate", action="store_true", help="apply migrations first")
    dev.add_argument("--feed", action="store_true", help="run the simulated rate feed alongside")
    dev.add_argument(
        "--partner", metavar="NAME", help="create this partner if missing, print its key"
    )
    dev.add_argument(
        "--env-file",
        metavar="PATH",
        help="also write the keys and the database URL here, as shell exports (mode 0600)",
    )
    dev.set_defaults(func=cmd_dev)

    migrate = commands.add_parser("migrate", help="apply (or roll back) database migrations")
    migrate.add_argument("--rollback", action="store_true", help="roll back instead of apply")
    migrate.add_argument("--count", type=int, default=1, help="migrations to roll back (default 1)")
    migrate.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="retry connecting to PostgreSQL this long first (default 60)",
    )
    migrate.set_defaults(func=cmd_migrate)

    partner = commands.add_parser(
        "create-partner", help="create a partner; prints its API key once"
    )
    partner.add_argument("name")
    partner.add_argument("--if-missing", action="store_true", help="do nothing if it exists")
    partner.set_defaults(func=cmd_create_partner)

    feed = commands.add_parser("feed", help="simulated rate feed for development")
    feed.add_argument("--seed", type=int, default=42, help="same seed, same prices")
    feed.add_argument("--interval", type=float, default=5.0, help="seconds between rates")
    feed.add_argument("--count", type=int, default=None, help="stop after N rates")
    feed.set_defaults(func=cmd_feed)

    health = commands.add_parser("healthcheck", help="exit 0 when /health answers 200")
    health.add_argument("--url", help="default http://127.0.0.1:$PORT/health")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(func=cmd_healthcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
