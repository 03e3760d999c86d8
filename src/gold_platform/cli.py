"""`gold-platform`: the one entry point for operators, containers and developers."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

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
    settings = _settings()
    if args.migrate:
        cmd_migrate(argparse.Namespace(rollback=False, count=1))
    from .server import serve_dev

    serve_dev(settings)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import migrations
    from .observability.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.rollback:
        done = migrations.rollback(settings.database_url, settings.migrations_dir, args.count)
        print(f"rolled back: {', '.join(done) or 'nothing'}")
    else:
        done = migrations.apply(settings.database_url, settings.migrations_dir)
        print(f"applied: {', '.join(done) or 'nothing (at head)'}")
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
    dev.set_defaults(func=cmd_dev)

    migrate = commands.add_parser("migrate", help="apply (or roll back) database migrations")
    migrate.add_argument("--rollback", action="store_true", help="roll back instead of apply")
    migrate.add_argument("--count", type=int, default=1, help="migrations to roll back (default 1)")
    migrate.set_defaults(func=cmd_migrate)

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
