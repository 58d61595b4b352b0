"""Whether a database already has the newest schema, asked without importing Alembic.

Every API and worker process brings the database to the newest schema as it starts. Except at
the first start of a new version that is a no-op, yet importing Alembic costs ~0.4 s of CPU (its
dialects pull in Mako and Pygments): a third of a worker's start-up (`cloudgreet bench startup`).
This compares the alembic_version row with the newest of the migrations' `revision` /
`down_revision` lines; whenever it cannot tell, it says no, and Alembic runs as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.*?)\s*$", re.MULTILINE)
_NAME = re.compile(r"""^(?:['"](\w+)['"]|None)$""")


def newest_revisions(versions: Path = VERSIONS) -> set[str]:
    """The heads of the migration graph: revisions no migration names as its down_revision; empty if
    a file is not in the shape `alembic revision` writes (a merge's tuple, say)."""
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        lines = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        names = {key: _NAME.match(value) for key, value in lines.items()}
        if set(names) != {"revision", "down_revision"} or not all(names.values()) or not names["revision"][1]:
            return set()
        revisions.add(names["revision"][1])
        parents.add(names["down_revision"][1])
    return revisions - parents


def schema_is_newest(engine: Engine) -> bool:
    newest = newest_revisions()
    try:
        with engine.connect() as connection:
            current = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:  # no such table yet, or the database cannot say: Alembic will
        return False
    return bool(newest) and current == newest
