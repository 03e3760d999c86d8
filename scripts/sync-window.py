#!/usr/bin/env python3
"""Would Argo CD let a person sync APPLICATION now? The project's sync windows, evaluated.

deploy-k8s.sh --direct asks this before it deploys without Argo CD, so a
direct deploy keeps the gate a manual sync has (the prod change freeze).
It follows Argo CD's rule for a manual sync: an active deny window blocks
unless it sets manualSync: true; otherwise, if allow windows apply, one of
them must be active (or an inactive one must set manualSync: true). A window
applies when one of its `applications` or `namespaces` patterns (globs)
matches; `clusters` are not known here (this repository sets none).
Schedules are five-field cron (numbers, names, *, ranges, lists, steps) in
the window's timeZone; durations are Go's form (63h, 1h30m, 45m).

Usage: sync-window.py [--project FILE] [--at ISO-8601] APPLICATION NAMESPACE
Exit status: 0 a manual sync is allowed, 1 it is blocked (one line says by
which window and until when), 2 bad input.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PROJECT = Path(__file__).resolve().parents[1] / "argocd" / "apps" / "project.yaml"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# minute, hour, day of month, month, day of week (7 is Sunday too)
FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
FIELD_NAMES = (
    {},
    {},
    {},
    {m: i + 1 for i, m in enumerate(MONTHS)},
    {d: i for i, d in enumerate(DAYS)},
)


class BadWindow(ValueError):
    pass


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise BadWindow(f"{text!r} is not a number")
        value = int(text)
    if not low <= value <= high:
        raise BadWindow(f"{value} is outside {low}-{high}")
    return value


def _field(text: str, index: int) -> set[int]:
    low, high = FIELD_RANGES[index]
    names = FIELD_NAMES[index]
    values: set[int] = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        step = _value(step_text, 1, high, {}) if slash else 1
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (_value(p, low, high, names) for p in span.split("-", 1))
        else:
            first = _value(span, low, high, names)
            last = high if slash else first  # "5/15" runs from 5 to the end
        values.update(range(first, last + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return values


@dataclass(frozen=True)
class Schedule:
    text: str
    fields: tuple[set[int], ...]
    either_day: bool  # both day fields restricted: either may match (cron's rule)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        parts = text.split()
        if len(parts) != 5:
            raise BadWindow(f"schedule {text!r}: want five cron fields")
        try:
            fields = tuple(_field(p, i) for i, p in enumerate(parts))
        except BadWindow as exc:
            raise BadWindow(f"schedule {text!r}: {exc}") from None
        return cls(text, fields, not parts[2].startswith("*") and not parts[4].startswith("*"))

    def fires_at(self, local: datetime) -> bool:
        minute, hour, day, month, weekday = self.fields
        day_of_month = local.day in day
        day_of_week = (local.isoweekday() % 7) in weekday
        if self.either_day:
            days = day_of_month or day_of_week
        else:
            days = day_of_month and day_of_week
        return local.minute in minute and local.hour in hour and local.month in month and days


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text or "")
    if not text or not match:
        raise BadWindow(f"duration {text!r}: want a form like 63h, 1h30m or 45m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True)
class Window:
    kind: str
    schedule: Schedule
    duration_text: str
    duration: timedelta
    zone: ZoneInfo
    manual_sync: bool

    @classmethod
    def parse(cls, spec: dict) -> Window:
        kind = spec.get("kind")
        if kind not in ("allow", "deny"):
            raise BadWindow(f"window kind {kind!r}: want allow or deny")
        try:
            zone = ZoneInfo(spec.get("timeZone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise BadWindow(f"unknown timeZone {spec.get('timeZone')!r}") from None
        duration = str(spec.get("duration", ""))
        return cls(
            kind,
            Schedule.parse(str(spec.get("schedule", ""))),
            duration,
            parse_duration(duration),
            zone,
            bool(spec.get("manualSync")),
        )

    def opened(self, at: datetime) -> datetime | None:
        """The start of the occurrence that is open at `at`, if any (Argo CD: s in (at-d, at))."""
        start = (at - self.duration).replace(second=0, microsecond=0) + timedelta(minutes=1)
        latest = None
        while start < at:
            if self.schedule.fires_at(start.astimezone(self.zone)):
                latest = start
            start += timedelta(minutes=1)
        return latest

    def describe(self) -> str:
        return (
            f"{self.kind} window '{self.schedule.text}' for {self.duration_text} ({self.zone.key})"
        )


def applies(spec: dict, application: str, namespace: str) -> bool:
    return any(fnmatch.fnmatchcase(application, p) for p in spec.get("applications") or []) or any(
        fnmatch.fnmatchcase(namespace, p) for p in spec.get("namespaces") or []
    )


def manual_sync_verdict(windows: list[Window], at: datetime) -> str | None:
    """None when a person may sync at `at`, else why not."""
    active = [(w, w.opened(at)) for w in windows]
    active = [(w, start) for w, start in active if start is not None]
    for window, start in active:
        if window.kind == "deny" and not window.manual_sync:
            until = (start + window.duration).strftime("%Y-%m-%d %H:%M UTC")
            return f"blocked by sync window: {window.describe()}, closed until {until}"
    if any(w.kind == "deny" for w, _ in active):
        return None  # an active deny window that lets a person sync
    allows = [w for w in windows if w.kind == "allow"]
    if not allows or any(w.kind == "allow" for w, _ in active):
        return None
    if any(w.manual_sync for w in allows):
        return None
    windows_text = "; ".join(w.describe() for w in allows)
    return f"blocked by sync window: no allow window is open now ({windows_text})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("application")
    parser.add_argument("namespace")
    parser.add_argument("--project", type=Path, default=DEFAULT_PROJECT)
    parser.add_argument("--at", help="evaluate at this ISO-8601 time (default: now)")
    args = parser.parse_args(argv)
    try:
        import yaml
    except ImportError:
        print("sync-window: PyYAML is needed (make venv, or pip install pyyaml)", file=sys.stderr)
        return 2
    try:
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    except ValueError as exc:
        print(f"sync-window: --at: {exc}", file=sys.stderr)
        return 2
    if at.tzinfo is None:
        print(
            "sync-window: --at needs a time zone, e.g. 2025-01-03T17:30:00+00:00", file=sys.stderr
        )
        return 2
    try:
        project = yaml.safe_load(args.project.read_text())
        specs = (project.get("spec") or {}).get("syncWindows") or []
        windows = [Window.parse(s) for s in specs if applies(s, args.application, args.namespace)]
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"sync-window: {args.project}: {exc}", file=sys.stderr)
        return 2
    verdict = manual_sync_verdict(windows, at.astimezone(UTC))
    if verdict:
        print(f"sync-window: {args.application}: {verdict}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
