"""database.schema_version: a database at the newest schema is known as such without Alembic."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from database.engine import get_engine
from database.migrate import alembic_config, upgrade_database
from database.schema_version import newest_revisions, schema_is_newest


def test_the_newest_revision_is_alembics_head():
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert newest_revisions() == set(scripts.get_heads())


def test_a_merge_or_an_unusual_file_is_not_guessed(tmp_path):
    (tmp_path / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    (tmp_path / "b.py").write_text("revision = 'b'\ndown_revision = 'a'\n")
    assert newest_revisions(tmp_path) == {"b"}
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = ('a', 'b')\n")
    assert newest_revisions(tmp_path) == set()


def test_an_empty_database_is_not_newest_and_a_migrated_one_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert not schema_is_newest(get_engine(url))
    upgrade_database(url)
    assert schema_is_newest(get_engine(url))


def test_starting_on_a_current_database_does_not_import_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'current.db'}"
    upgrade_database(url)
    code = f"import sys; from database.migrate import upgrade_database; upgrade_database({url!r}); print('alembic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
