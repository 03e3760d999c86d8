"""Adds the e2e "next release" migration to a copy of migrations/.

The rolling-upgrade scenario needs a release whose only difference is one
more migration, written the way every migration here must be (expand only:
the previous release keeps working on the new schema). It goes after the
newest shipped migration and depends on it, so it is the new head.

Usage: python next_migration.py MIGRATIONS_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from gold_platform.migrations import head_id

EXPAND_SQL = """\
-- e2e next release: an expand-only change (a new nullable column), so pods
-- of the previous release keep serving while the schema is ahead of them.
-- depends: {head}

ALTER TABLE partners ADD COLUMN e2e_release_note text;
"""
ROLLBACK_SQL = """\
ALTER TABLE partners DROP COLUMN e2e_release_note;
"""


def main(migrations_dir: Path) -> str:
    head = head_id(migrations_dir)
    number = int(head.split(".", 1)[0]) + 1
    name = f"{number:04d}.e2e-next-release"
    (migrations_dir / f"{name}.sql").write_text(EXPAND_SQL.format(head=head))
    (migrations_dir / f"{name}.rollback.sql").write_text(ROLLBACK_SQL)
    return name


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: next_migration.py MIGRATIONS_DIR")
    print(main(Path(sys.argv[1])))
