"""The hub's lesson sync (tools/hub/sync_lessons.py) follows nbgitpuller's rules and never loses a learner's work."""

import datetime
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "hub"))
import sync_lessons  # noqa: E402

NOW = datetime.datetime(2026, 12, 3, 17, 30, 5)
OLD, NEW, MINE = "old", "new", "mine"  # digests: what upstream gave before, what it has now, the learner's


@pytest.mark.parametrize(("upstream", "local", "received", "action", "manifest"), [
    ({"a.ipynb": NEW}, {}, {}, "add", NEW),
    ({"a.ipynb": NEW}, {}, {"a.ipynb": OLD}, "restore", NEW),
    ({"a.ipynb": NEW}, {"a.ipynb": NEW}, {"a.ipynb": OLD}, None, NEW),
    ({"a.ipynb": NEW}, {"a.ipynb": OLD}, {"a.ipynb": OLD}, "update", NEW),
    ({"a.ipynb": NEW}, {"a.ipynb": MINE}, {"a.ipynb": OLD}, "keep", OLD),
    ({"a.ipynb": OLD}, {"a.ipynb": MINE}, {"a.ipynb": OLD}, "keep", OLD),
    ({"a.ipynb": NEW}, {"a.ipynb": MINE}, {}, "rename", NEW),
    ({}, {"a.ipynb": OLD}, {"a.ipynb": OLD}, "remove", None),
    ({}, {"a.ipynb": MINE}, {"a.ipynb": OLD}, None, None),
    ({}, {"a.ipynb": MINE}, {}, None, None),
], ids=["new upstream file", "deleted by the learner", "already the same", "unchanged by the learner",
        "learner's edit, upstream changed", "learner's edit", "learner's own file in the way",
        "gone upstream, unchanged", "gone upstream, edited", "learner's own file"])
def test_each_rule_of_the_plan(upstream, local, received, action, manifest):
    plan = sync_lessons.plan_sync(upstream, local, received)
    for name in sync_lessons.ACTIONS:
        assert getattr(plan, name) == (["a.ipynb"] if name == action else []), name
    assert plan.manifest.get("a.ipynb") == manifest


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def course(tmp_path):
    upstream, home = tmp_path / "lessons", tmp_path / "home" / "lessons"
    write(upstream, {"01.ipynb": "one", "02.ipynb": "two", "03.ipynb": "three", "data/x.csv": "1,2"})
    sync_lessons.sync(upstream, home, NOW)
    return upstream, home


def test_a_first_sync_copies_every_file_and_records_them(course):
    upstream, home = course
    assert {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()} == {
        "01.ipynb", "02.ipynb", "03.ipynb", "data/x.csv", sync_lessons.MANIFEST}
    assert json.loads((home / sync_lessons.MANIFEST).read_text()) == sync_lessons.digests(upstream)


def test_a_resync_keeps_edits_restores_deletions_updates_the_rest_and_renames_what_is_in_the_way(course):
    upstream, home = course
    write(home, {"01.ipynb": "my answers", "04.ipynb": "my own notes"})
    (home / "02.ipynb").unlink()
    write(upstream, {"01.ipynb": "one, revised", "03.ipynb": "three, revised", "04.ipynb": "four"})
    plan = sync_lessons.sync(upstream, home, NOW)
    assert (plan.keep, plan.restore, plan.update, plan.rename) == (["01.ipynb"], ["02.ipynb"], ["03.ipynb"],
                                                                   ["04.ipynb"])
    assert (home / "01.ipynb").read_text() == "my answers"
    assert (home / "02.ipynb").read_text() == "two"
    assert (home / "03.ipynb").read_text() == "three, revised"
    assert (home / "04.ipynb").read_text() == "four"
    assert (home / "04_20261203173005.ipynb").read_text() == "my own notes"
    again = sync_lessons.sync(upstream, home, NOW)  # nothing new: the edit is still the learner's
    assert again.keep == ["01.ipynb"] and not (again.add or again.update or again.rename or again.restore)


def test_a_lost_manifest_renames_rather_than_overwrites(course):
    upstream, home = course
    write(home, {"01.ipynb": "my answers"})
    (home / sync_lessons.MANIFEST).write_text("not json")
    plan = sync_lessons.sync(upstream, home, NOW)
    assert plan.rename == ["01.ipynb"] and (home / "01_20261203173005.ipynb").read_text() == "my answers"


def test_a_renamed_file_never_replaces_an_existing_one(tmp_path):
    write(tmp_path, {"a.ipynb": "", "a_20261203173005.ipynb": "earlier"})
    assert sync_lessons.renamed(tmp_path / "a.ipynb", NOW).name == "a_20261203173005_2.ipynb"


def test_a_missing_upstream_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist: run `make notebooks`"):
        sync_lessons.sync(tmp_path / "nowhere", tmp_path / "home")
