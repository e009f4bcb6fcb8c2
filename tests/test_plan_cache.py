"""The parse cache behind `next` and the marking commands (``plan_tasks.plan_cache``):
a plan is parsed once per content, read back without the parser's imports, never
trusted when damaged, never required, and never holds an invalid plan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.errors import PlanInvalid
from plan_tasks.load import load_plan
from plan_tasks.plan_cache import cache_dir, load_index
from plan_tasks.plan_index import FORMAT, PlanIndex, build_index

ROOT = Path(__file__).resolve().parents[1]
READY = Path(__file__).parent / "fixtures" / "ready"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    copy = tmp_path / "auth.md"
    shutil.copyfile(READY / "auth.md", copy)
    return copy


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def parsed(path: Path) -> PlanIndex:
    return build_index(load_plan(str(path)))


def test_first_load_parses_and_stores_one_entry_that_round_trips(cache: Path, plan: Path) -> None:
    loaded = load_index(plan, "auth.md")
    assert loaded.index == parsed(plan)
    (entry,) = entries(cache)
    assert PlanIndex.from_json(json.loads(entry.read_text(encoding="utf-8"))) == loaded.index


def test_second_load_reads_the_entry_instead_of_parsing(cache: Path, plan: Path) -> None:
    load_index(plan, "auth.md")
    (entry,) = entries(cache)
    stored = json.loads(entry.read_text(encoding="utf-8"))
    stored["title"] = "read from the cache"
    entry.write_text(json.dumps(stored), encoding="utf-8")
    assert load_index(plan, "auth.md").index.title == "read from the cache"


# Loads the plan through the cache in a fresh interpreter and reports whether
# the parser's dependencies were imported.
PROBE = """
import json, sys
from pathlib import Path
from plan_tasks.plan_cache import load_index
index = load_index(Path(sys.argv[1]), "auth.md").index
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"markdown_it", "pydantic"})
print(json.dumps({"tasks": len(index.tasks), "heavy": heavy}))
"""


def load_in_fresh_interpreter(plan: Path, cache: Path) -> dict:
    env = {**os.environ, "PLAN_TASKS_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", PROBE, str(plan)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_cached_plan_loads_without_markdown_it_or_pydantic(cache: Path, plan: Path) -> None:
    assert load_in_fresh_interpreter(plan, cache) == {"tasks": 7, "heavy": ["markdown_it", "pydantic"]}  # cold
    assert load_in_fresh_interpreter(plan, cache) == {"tasks": 7, "heavy": []}  # warm


def test_an_edited_plan_gets_a_new_entry_and_its_new_tasks(cache: Path, plan: Path) -> None:
    load_index(plan, "auth.md")
    plan.write_text(plan.read_text(encoding="utf-8") + "- [ ] 2.4 Rate-limit the login endpoint\n", encoding="utf-8")
    edited = load_index(plan, "auth.md")
    assert edited.index.tasks[-1].id == "2.4"
    assert len(entries(cache)) == 2


def test_one_content_at_two_paths_shares_one_entry(cache: Path, plan: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "copy.md"
    elsewhere.parent.mkdir()
    shutil.copyfile(plan, elsewhere)
    assert load_index(plan, "auth.md").index == load_index(elsewhere, "elsewhere/copy.md").index
    assert len(entries(cache)) == 1


CORRUPT_ENTRIES = {
    "not JSON": b"{\"format\": 1, \"tit",
    "not UTF-8": b"\xff\xfe\x00garbage",
    "JSON of another shape": b"[1, 2, 3]",
    "JSON null": b"null",
    "another format": json.dumps({"format": FORMAT + 1, "title": "x", "phases": [], "tasks": []}).encode(),
    "a task without its fields": json.dumps({"format": FORMAT, "title": "x", "phases": [],
                                             "tasks": [{"id": "1.1"}]}).encode(),
    "no tasks key": json.dumps({"format": FORMAT, "title": "x", "phases": []}).encode(),
    "empty file": b"",
}


@pytest.mark.parametrize("content", CORRUPT_ENTRIES.values(), ids=CORRUPT_ENTRIES.keys())
def test_a_corrupt_entry_is_ignored_and_replaced_by_a_fresh_parse(cache: Path, plan: Path, content: bytes) -> None:
    load_index(plan, "auth.md")
    (entry,) = entries(cache)
    entry.write_bytes(content)
    assert load_index(plan, "auth.md").index == parsed(plan)
    assert PlanIndex.from_json(json.loads(entry.read_text(encoding="utf-8"))) == parsed(plan)


def test_an_unwritable_cache_dir_only_costs_a_parse(tmp_path: Path, plan: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(blocker / "cache"))  # cannot be created, even by root
    assert load_index(plan, "auth.md").index == parsed(plan)
    assert load_index(plan, "auth.md").index == parsed(plan)


def test_an_invalid_plan_is_reported_with_the_path_as_given_and_never_cached(cache: Path, tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.md"
    shutil.copyfile(READY / "invalid.md", invalid)
    for _ in range(2):  # reported again on the second call: nothing was stored
        with pytest.raises(PlanInvalid) as raised:
            load_index(invalid, "plans/invalid.md")
        assert raised.value.format() == (
            "plans/invalid.md:7:17: error: task 1.2 depends on unknown task 1.9; did you mean 1.1?\n"
            "  hint: refer to tasks by the ids of their `- [ ] N.M` lines"
        )
    assert entries(cache) == []


@pytest.mark.parametrize(("content", "message"), [
    (None, "plans/gone.md:1:1: error: cannot read plan: No such file or directory\n  hint: check the path"),
    (b"# Plan\n\n## Phase 1: A\n\n- [ ] 1.1 Caf\xe9\n",
     "plans/gone.md:5:14: error: plan is not valid UTF-8 (byte 0xe9)\n"
     "  hint: save the plan as UTF-8, e.g. `iconv -f latin1 -t utf-8`"),
], ids=["missing file", "not UTF-8"])
def test_an_unreadable_plan_is_reported_with_the_path_as_given(cache: Path, tmp_path: Path, content: bytes | None,
                                                               message: str) -> None:
    path = tmp_path / "gone.md"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PlanInvalid) as raised:
        load_index(path, "plans/gone.md")
    assert raised.value.format() == message
    assert entries(cache) == []


@pytest.mark.parametrize(("environment", "expected"), [
    ({"PLAN_TASKS_CACHE_DIR": "/c/plan", "XDG_CACHE_HOME": "/c/xdg", "HOME": "/c/home"}, "/c/plan"),
    ({"XDG_CACHE_HOME": "/c/xdg", "HOME": "/c/home"}, "/c/xdg/plan-tasks"),
    ({"HOME": "/c/home"}, "/c/home/.cache/plan-tasks"),
    ({"PLAN_TASKS_CACHE_DIR": "", "XDG_CACHE_HOME": "", "HOME": "/c/home"}, "/c/home/.cache/plan-tasks"),
], ids=["PLAN_TASKS_CACHE_DIR first", "then XDG_CACHE_HOME", "then ~/.cache", "empty variables are unset"])
def test_cache_dir_is_chosen_from_the_environment(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str],
                                                  expected: str) -> None:
    for name in ("PLAN_TASKS_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert cache_dir() == Path(expected)
