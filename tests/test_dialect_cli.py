"""Dialects through the commands: `--format`, `show`'s dialect line, plan-skipped
tasks in status.json, the parse cache, and `next` staying light on a warm cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plan_tasks.cli.main import main
from plan_tasks.errors import EXIT_INVALID, EXIT_OK
from plan_tasks.plan_cache import load_index

ROOT = Path(__file__).resolve().parents[1]
DIALECTS = Path(__file__).resolve().parent / "fixtures" / "dialects"
PLAN = "docs/plans/tasks.md"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TASKS_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "project"
    (root / "docs" / "plans").mkdir(parents=True)
    return root


def put_plan(root: Path, fixture: str) -> Path:
    path = root / PLAN
    shutil.copyfile(DIALECTS / fixture, path)
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_prints_the_detected_dialect_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "show", str(DIALECTS / "speckit_small.md"))
    assert code == EXIT_OK
    assert out.splitlines()[2] == "format: speckit (6 `- [ ] T001` item(s) under 2 `## Phase N:` heading(s))"


def test_show_json_carries_the_dialect_and_the_parallel_override(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "show", "--json", str(DIALECTS / "parallel_note.md"))
    data = json.loads(out)
    assert (code, data["dialect"]) == (EXIT_OK, "seed")
    assert data["overrides"] == [{"tasks": ["1.1", "1.2"], "path": "src/mod.py",
                                  "reason": "execution note: different functions, merged by git"}]
    assert [task["status"] for task in data["phases"][0]["tasks"]] == ["pending", "pending", "skipped"]


def test_format_forces_a_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    # The spec-kit plan read as the seed format has no `N.M` tasks.
    code, _, err = cli(capsys, "validate", "--format", "seed", str(DIALECTS / "speckit_small.md"))
    assert code == EXIT_INVALID
    assert "error: no tasks found (2 phase(s))" in err
    code, out, _ = cli(capsys, "show", "--format", "speckit", str(DIALECTS / "speckit_small.md"))
    assert (code, out.splitlines()[2]) == (EXIT_OK, "format: speckit (forced with `--format`)")


def test_graph_takes_the_dialect_as_dialect_since_format_is_its_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "graph", "--dialect", "seed", "--format", "json", str(DIALECTS / "parallel_note.md"))
    data = json.loads(out)
    assert (code, data["dialect"]) == (EXIT_OK, "seed")
    assert [(edge["from"], edge["to"], edge["kind"]) for edge in data["edges"]] == [("1.2", "1.3", "file")]
    assert data["overrides"][0]["tasks"] == ["1.1", "1.2"]


def test_unknown_format_is_a_usage_error_naming_the_dialects(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "show", "--format", "jira", str(DIALECTS / "speckit_small.md"))
    assert (code, out) == (EXIT_INVALID, "")
    assert "error: unknown plan format 'jira'" in err
    assert "seed, speckit, kiro, openspec, checklist" in err
    assert "Traceback" not in err


def test_init_starts_plan_skipped_tasks_skipped_with_cause_plan(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_plan(project, "speckit_small.md")
    assert cli(capsys, "init", "--root", str(project), "--plan", PLAN)[0] == EXIT_OK
    status = json.loads((project / "docs/plan-outputs/tasks/status.json").read_text(encoding="utf-8"))
    skipped = [task for task in status["tasks"] if task["status"] == "skipped"]
    assert [(task["id"], task["planTasks"]) for task in skipped] == [("T006", {"skipCause": "plan"})]
    assert status["summary"]["skipped"] == 1


def test_resync_follows_the_plan_skipping_and_unskipping_a_task(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = put_plan(project, "speckit_small.md")
    cli(capsys, "init", "--root", str(project), "--plan", PLAN)
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("~~T006 [US1] Add OAuth~~ [skip]", "T006 [US1] Add OAuth")
                    .replace("- [ ] T005", "- [ ] T005 [skip]"), encoding="utf-8")
    code, out, _ = cli(capsys, "init", "--root", str(project), "--plan", PLAN)
    assert (code, sorted(json.loads(out)["updated"])) == (EXIT_OK, ["T005", "T006"])
    status = json.loads((project / "docs/plan-outputs/tasks/status.json").read_text(encoding="utf-8"))
    by_id = {task["id"]: task for task in status["tasks"]}
    assert (by_id["T006"]["status"], "planTasks" in by_id["T006"]) == ("pending", False)
    assert (by_id["T005"]["status"], by_id["T005"]["planTasks"]) == ("skipped", {"skipCause": "plan"})


def test_next_never_offers_a_plan_skipped_task(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_plan(project, "parallel_note.md")
    cli(capsys, "init", "--root", str(project), "--plan", PLAN)
    code, out, _ = cli(capsys, "next", "5", "--root", str(project), "--plan", PLAN)
    assert code == EXIT_OK
    assert [task["id"] for task in json.loads(out)["tasks"]] == ["1.1", "1.2"]


def test_parse_cache_carries_the_dialect_and_keys_on_the_forced_one(project: Path) -> None:
    plan = put_plan(project, "kiro_ide_tasks.md")
    detected = load_index(plan, PLAN)
    assert (detected.index.dialect, [task.id for task in detected.index.tasks][:3]) == ("kiro", ["1", "2.1", "2.2"])
    assert load_index(plan, PLAN).index.dialect == "kiro"  # from the cache
    with pytest.raises(Exception, match="no tasks found"):
        load_index(plan, PLAN, "speckit")  # a different key: parsed again, as spec-kit


def test_next_on_a_warm_cache_imports_neither_pydantic_nor_markdown_it(project: Path, tmp_path: Path) -> None:
    put_plan(project, "cc_sdd_tasks.md")
    env = {**os.environ, "PLAN_TASKS_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    probe = (
        "import contextlib, io, json, sys\n"
        "from plan_tasks.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(sys.argv[1:])\n"
        "heavy = sorted({n.split('.')[0] for n in sys.modules} & {'pydantic', 'markdown_it', 'prefect'})\n"
        "print(json.dumps({'code': code, 'heavy': heavy, 'out': json.loads(out.getvalue())}))\n"
    )
    reports = [
        json.loads(subprocess.run([sys.executable, "-c", probe, command, "--root", str(project), "--plan", PLAN],
                                  capture_output=True, text=True, env=env, check=True, timeout=120).stdout)
        for command in ("init", "next")
    ]
    assert reports[0]["heavy"] == ["markdown_it", "pydantic"]  # cold: `init` parses the plan once
    assert (reports[1]["code"], reports[1]["heavy"]) == (0, [])
    # 1.1 is done; 1.3 waits for 1.2 (no (P)); phase 2 waits for 80% of phase 1
    assert [task["id"] for task in reports[1]["out"]["tasks"]] == ["1.2"]


def test_parallel_phase_lets_its_tasks_share_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("## Phase 1: Docs [PARALLEL]\n- [ ] 1.1 Edit `README.md`\n- [ ] 1.2 Also `README.md`\n"
                    "## Phase 2: Code\n- [ ] 2.1 Edit `src/a.py`\n- [ ] 2.2 Edit `src/a.py` too\n", encoding="utf-8")
    code, out, _ = cli(capsys, "graph", "--format", "json", str(plan))
    data = json.loads(out)
    assert code == EXIT_OK
    assert [(edge["from"], edge["to"], edge["kind"]) for edge in data["edges"]] == [("2.1", "2.2", "file")]
    assert data["overrides"] == [{"tasks": ["1.1", "1.2"], "path": "README.md", "reason": "[PARALLEL] phase"}]


def test_init_with_format_reads_the_plan_in_that_dialect(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_plan(project, "kiro_ide_tasks.md")
    code, _, err = cli(capsys, "init", "--format", "speckit", "--root", str(project), "--plan", PLAN)
    assert (code, "error: no tasks found" in err) == (EXIT_INVALID, True)
    assert not (project / "docs/plan-outputs/tasks/status.json").exists()
    code, out, _ = cli(capsys, "init", "--format", "kiro", "--root", str(project), "--plan", PLAN)
    assert (code, json.loads(out)["taskCount"]) == (EXIT_OK, 7)


def test_run_dry_run_takes_the_format_too(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_plan(project, "cc_sdd_tasks.md")
    code, _, err = cli(capsys, "run", "--dry-run", "--format", "openspec", "--root", str(project), PLAN)
    assert (code, "error: no tasks found" in err) == (EXIT_INVALID, True)
    code, out, _ = cli(capsys, "run", "--dry-run", "--format", "kiro", "--root", str(project), PLAN)
    assert code == EXIT_OK
    assert "1.2" in out and "2.3" in out
