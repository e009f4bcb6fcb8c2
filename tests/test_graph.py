"""The dependency graph: typed edges built from a plan, cycles, the phase-gated
sorter, levels and the critical path."""

from __future__ import annotations

import copy
import operator
import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest

from plan_tasks.graph import Edge, FrozenGraphError, PlanGraph, build_graph
from plan_tasks.load import load_plan, load_text
from plan_tasks.parse import parse_plan
from plan_tasks.plan_index import build_index


def graph_of_text(*lines: str) -> PlanGraph:
    """The graph of a plan written as lines (checked, so it must be valid)."""
    return load_text("\n".join(lines) + "\n", "plan.md").graph


def graph_of(
    phases: list[list[str]], edges: Sequence[tuple[str, str]] = (), weights: dict[str, int] | None = None
) -> PlanGraph:
    """A graph built directly: task ids per phase, (source, target) edges, weights (default 1)."""
    task_ids = [task_id for phase in phases for task_id in phase]
    phase_of = {task_id: index for index, phase in enumerate(phases) for task_id in phase}
    weight = {task_id: (weights or {}).get(task_id, 1) for task_id in task_ids}
    return PlanGraph(task_ids, phase_of, weight, len(phases),
                     [Edge(source, target, "depends", f"{target} depends on {source}", 1, 1) for source, target in edges])


def edge_triples(graph: PlanGraph) -> set[tuple[str, str, str]]:
    return {(edge.source, edge.target, edge.kind) for edge in graph.edges}


# -- edges -------------------------------------------------------------------


def test_depends_on_makes_a_depends_edge_with_its_reason_and_location() -> None:
    graph = graph_of_text(
        "## Phase 1: Setup",
        "- [ ] 1.1 Create the package",
        "- [ ] 1.2 Add the parser",
        "  - Depends on: 1.1",
    )
    assert graph.edges == [Edge("1.1", "1.2", "depends", "1.2 depends on 1.1", 4, 17)]


def test_execution_note_chains_its_tasks_in_document_order_even_when_listed_out_of_order() -> None:
    graph = graph_of_text(
        "## Phase 1: Setup",
        "**Execution Note:** Tasks 1.3, 1.1, 1.2 are [SEQUENTIAL] - they share a lock file",
        "- [ ] 1.1 One",
        "- [ ] 1.2 Two",
        "- [ ] 1.3 Three",
    )
    assert [(edge.source, edge.target, edge.kind, edge.reason) for edge in graph.edges] == [
        ("1.1", "1.2", "sequential", "execution note: they share a lock file"),
        ("1.2", "1.3", "sequential", "execution note: they share a lock file"),
    ]


def test_sequential_phase_heading_chains_only_its_own_tasks() -> None:
    graph = graph_of_text(
        "## Phase 1: Setup",
        "- [ ] 1.1 One",
        "- [ ] 1.2 Two",
        "## Phase 2: Wiring [SEQUENTIAL]",
        "- [ ] 2.1 One",
        "- [ ] 2.2 Two",
        "- [ ] 2.3 Three",
    )
    assert [(edge.source, edge.target, edge.kind, edge.reason) for edge in graph.edges] == [
        ("2.1", "2.2", "sequential", "[SEQUENTIAL] phase"),
        ("2.2", "2.3", "sequential", "[SEQUENTIAL] phase"),
    ]


def test_tasks_of_one_phase_naming_one_file_wait_for_the_previous_holder() -> None:
    graph = graph_of_text(
        "## Phase 1: Setup",
        "- [ ] 1.1 Create `src/app.py`",
        "- [ ] 1.2 Write `docs/app.md`",
        "- [ ] 1.3 Extend `src/app.py`",
        "- [ ] 1.4 Test `src/app.py`",
    )
    assert [(edge.source, edge.target, edge.kind, edge.reason) for edge in graph.edges] == [
        ("1.1", "1.3", "file", "both touch src/app.py"),
        ("1.3", "1.4", "file", "both touch src/app.py"),
    ]


def test_tasks_of_different_phases_naming_one_file_get_no_file_edge() -> None:
    graph = graph_of_text(
        "## Phase 1: Setup",
        "- [ ] 1.1 Create `src/app.py`",
        "## Phase 2: Wiring",
        "- [ ] 2.1 Extend `src/app.py`",
    )
    assert graph.edges == []


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        pytest.param(
            [
                "## Phase 1: Setup",
                "**Execution Note:** Tasks 1.1-1.2 are [SEQUENTIAL] - one lock",
                "- [ ] 1.1 Create `src/app.py`",
                "- [ ] 1.2 Extend `src/app.py` (depends: 1.1)",
            ],
            "depends",
            id="dependency, note and file",
        ),
        pytest.param(
            [
                "## Phase 1: Setup",
                "**Execution Note:** Tasks 1.1-1.2 are [SEQUENTIAL] - one lock",
                "- [ ] 1.1 Create `src/app.py`",
                "- [ ] 1.2 Extend `src/app.py`",
            ],
            "sequential",
            id="note and file",
        ),
        pytest.param(
            [
                "## Phase 1: Setup [SEQUENTIAL]",
                "- [ ] 1.1 Create `src/app.py`",
                "- [ ] 1.2 Extend `src/app.py`",
            ],
            "sequential",
            id="sequential phase and file",
        ),
        pytest.param(
            [
                "## Phase 1: Setup [SEQUENTIAL]",
                "- [ ] 1.1 Create the app",
                "- [ ] 1.2 Extend the app (depends: 1.1)",
            ],
            "depends",
            id="dependency and sequential phase",
        ),
    ],
)
def test_first_reason_wins_when_several_join_one_pair(lines: list[str], kind: str) -> None:
    graph = graph_of_text(*lines)
    assert edge_triples(graph) == {("1.1", "1.2", kind)}


def test_a_graph_keeps_the_first_edge_of_a_pair_and_drops_self_edges() -> None:
    first = Edge("1.1", "1.2", "depends", "1.2 depends on 1.1", 3, 1)
    graph = PlanGraph(["1.1", "1.2"], {"1.1": 0, "1.2": 0}, {"1.1": 1, "1.2": 1}, 1, [
        first, Edge("1.1", "1.2", "file", "both touch a.py", 4, 1), Edge("1.1", "1.1", "depends", "1.1 on 1.1", 5, 1)])
    assert graph.edges == [first]
    assert graph.predecessors == {"1.1": (), "1.2": ("1.1",)}
    assert graph.successors == {"1.1": ("1.2",), "1.2": ()}


# -- frozen ------------------------------------------------------------------

FROZEN_GRAPH = graph_of_text("## Phase 1: Setup", "- [ ] 1.1 One", "- [ ] 1.2 Two (depends: 1.1)")
CHANGES = {
    "add a predecessor": lambda graph: operator.setitem(graph.predecessors, "1.1", ("1.2",)),
    "add a successor": lambda graph: operator.setitem(graph.successors, "1.2", ("1.1",)),
    "change a weight": lambda graph: operator.setitem(graph.weight, "1.1", 3),
    "move a task to another phase": lambda graph: operator.setitem(graph.phase_of, "1.2", 1),
    "reorder the tasks": lambda graph: operator.setitem(graph.order, "1.2", 0),
    "replace the predecessors": lambda graph: setattr(graph, "predecessors", {}),
    "add a task": lambda graph: setattr(graph, "task_ids", ("1.1", "1.2", "1.3")),
    "drop the overrides": lambda graph: delattr(graph, "overrides"),
    "add an attribute": lambda graph: setattr(graph, "extra", 1),
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_a_built_graph_cannot_be_changed(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        change(FROZEN_GRAPH)
    assert FROZEN_GRAPH.predecessors == {"1.1": (), "1.2": ("1.1",)}
    assert FROZEN_GRAPH.levels() == [["1.1"], ["1.2"]]


@pytest.mark.parametrize("copy_graph", [copy.deepcopy, lambda graph: pickle.loads(pickle.dumps(graph))],
                         ids=["deepcopy", "pickle"])
def test_a_copy_of_a_frozen_graph_is_an_equal_frozen_graph(copy_graph) -> None:  # type: ignore[no-untyped-def]
    graph = graph_of_text("## Phase 1: A", "- [ ] 1.1 One in `a.py`", "- [ ] 1.2 Two in `a.py`", "## Phase 2: B",
                          "- [ ] 2.1 Three HIGH (depends: 1.1)")
    copied = copy_graph(graph)
    assert type(copied) is type(graph)
    assert (copied.task_ids, copied.phase_of, copied.weight, copied.phase_count, copied.edges, copied.overrides) == \
        (graph.task_ids, graph.phase_of, graph.weight, graph.phase_count, graph.edges, graph.overrides)
    assert (copied.predecessors, copied.successors) == (graph.predecessors, graph.successors)
    with pytest.raises(TypeError):
        operator.setitem(copied.predecessors, "1.1", ("2.1",))
    index_graph = build_index(load_text("## Phase 1: A\n- [ ] 1.1 One\n- [ ] 1.2 Two (depends: 1.1)\n",
                                        "plan.md")).task_graph()
    assert copy_graph(index_graph).predecessors == {"1.1": (), "1.2": ("1.1",)}


def test_a_built_graph_has_no_way_to_add_an_edge() -> None:
    assert not hasattr(FROZEN_GRAPH, "add_edge")
    with pytest.raises(FrozenGraphError, match="frozen"):
        FROZEN_GRAPH.overrides = ()  # type: ignore[misc]


# -- cycles ------------------------------------------------------------------


def test_find_cycle_returns_none_for_an_acyclic_graph() -> None:
    assert graph_of([["1.1", "1.2", "1.3"]], [("1.1", "1.2"), ("1.2", "1.3"), ("1.1", "1.3")]).find_cycle() is None


def test_find_cycle_returns_the_path_from_a_task_through_what_it_waits_for_back_to_it() -> None:
    plan, _ = parse_plan(
        "## Phase 1: Setup\n"
        "- [ ] 1.1 One (depends: 1.3)\n"
        "- [ ] 1.2 Two (depends: 1.1)\n"
        "- [ ] 1.3 Three (depends: 1.2)\n"
        "- [ ] 1.4 Four (depends: 1.1)\n",
        "plan.md",
    )
    graph = build_graph(plan)
    cycle = graph.find_cycle()
    assert cycle == ["1.1", "1.3", "1.2", "1.1"]
    assert all(graph.edge(upstream, waiter) is not None for waiter, upstream in zip(cycle, cycle[1:]))


def test_find_cycle_finds_a_cycle_not_reachable_from_the_first_task() -> None:
    graph = graph_of([["1.1", "1.2", "1.3"]], [("1.1", "1.2"), ("1.2", "1.3"), ("1.3", "1.2")])
    assert graph.find_cycle() == ["1.2", "1.3", "1.2"]


# -- the sorter --------------------------------------------------------------


def test_strict_gate_opens_a_phase_only_when_every_earlier_task_is_done() -> None:
    sorter = graph_of([["1.1", "1.2"], ["2.1"]]).sorter(1.0)
    assert sorter.get_ready() == ("1.1", "1.2")
    sorter.done("1.1")
    assert sorter.get_ready() == ()
    sorter.done("1.2")
    assert sorter.get_ready() == ("2.1",)


@pytest.mark.parametrize(("done_count", "opens"), [(3, False), (4, True), (5, True)])
def test_gate_0_8_opens_the_next_phase_when_four_of_five_tasks_are_done(done_count: int, opens: bool) -> None:
    sorter = graph_of([["1.1", "1.2", "1.3", "1.4", "1.5"], ["2.1"]]).sorter(0.8)
    ready = sorter.get_ready()
    assert ready == ("1.1", "1.2", "1.3", "1.4", "1.5")
    sorter.done(*ready[:done_count])
    assert sorter.get_ready() == (("2.1",) if opens else ())


def test_gate_0_8_waits_for_every_earlier_phase_not_only_the_previous_one() -> None:
    sorter = graph_of([["1.1", "1.2", "1.3", "1.4", "1.5"], ["2.1"], ["3.1"]]).sorter(0.8)
    sorter.get_ready()
    sorter.done("1.1", "1.2", "1.3", "1.4")
    assert sorter.get_ready() == ("2.1",)  # phase 3 waits: phase 2 has 0 of 1 done
    sorter.done("2.1")
    assert sorter.get_ready() == ("3.1",)


def test_gate_zero_readies_a_later_phase_task_without_dependencies_at_once() -> None:
    sorter = graph_of([["1.1", "1.2"], ["2.1", "2.2"]], [("1.1", "2.2")]).sorter(0.0)
    assert sorter.get_ready() == ("1.1", "1.2", "2.1")
    sorter.done("1.1")
    assert sorter.get_ready() == ("2.2",)


def test_a_task_waits_for_all_its_predecessors() -> None:
    sorter = graph_of([["1.1", "1.2", "1.3"]], [("1.1", "1.3"), ("1.2", "1.3")]).sorter(1.0)
    assert sorter.get_ready() == ("1.1", "1.2")
    sorter.done("1.2")
    assert sorter.get_ready() == ()
    sorter.done("1.1")
    assert sorter.get_ready() == ("1.3",)


def test_finished_tasks_count_as_done_from_the_start_and_are_never_handed_out() -> None:
    sorter = graph_of([["1.1", "1.2"], ["2.1"]], [("1.1", "1.2")]).sorter(1.0, finished={"1.1", "1.2"})
    assert sorter.get_ready() == ("2.1",)


def test_checked_tasks_of_a_plan_are_finished_when_passed_as_finished() -> None:
    plan = load_text("## Phase 1: Setup\n- [x] 1.1 Done already\n- [ ] 1.2 Next (depends: 1.1)\n", "plan.md")
    checked = {task.id for task in plan.plan.tasks if task.checked}
    assert plan.graph.sorter(1.0, checked).get_ready() == ("1.2",)


def test_a_finished_task_whose_predecessor_is_unfinished_does_not_break_the_sorter() -> None:
    # `- [ ] 1.1` then `- [x] 1.2 (depends: 1.1)`: a user checked a task out of order.
    sorter = graph_of([["1.1", "1.2", "1.3"]], [("1.1", "1.2"), ("1.2", "1.3")]).sorter(1.0, finished={"1.2"})
    assert sorter.get_ready() == ("1.1", "1.3")
    sorter.done("1.1", "1.3")
    assert not sorter.is_active()


def test_get_ready_hands_out_each_task_once() -> None:
    sorter = graph_of([["1.1", "1.2"]]).sorter()
    assert sorter.get_ready() == ("1.1", "1.2")
    assert sorter.get_ready() == ()


@pytest.mark.parametrize(
    ("after_first_done", "task_id"),
    [
        pytest.param(False, "1.2", id="not yet ready"),
        pytest.param(False, "1.1", id="ready but not fetched"),
        pytest.param(True, "9.9", id="unknown"),
        pytest.param(True, "1.1", id="already done"),
    ],
)
def test_done_on_a_task_not_handed_out_raises_value_error(after_first_done: bool, task_id: str) -> None:
    sorter = graph_of([["1.1", "1.2"]], [("1.1", "1.2")]).sorter()
    if after_first_done:
        sorter.get_ready()
        sorter.done("1.1")
    with pytest.raises(ValueError, match=f"task {task_id} was not handed out"):
        sorter.done(task_id)


def test_is_active_until_every_handed_out_task_is_done() -> None:
    sorter = graph_of([["1.1"], ["2.1"]]).sorter()
    assert sorter.is_active()  # 1.1 is ready
    sorter.get_ready()
    assert sorter.is_active()  # 1.1 is handed out
    sorter.done("1.1")
    assert sorter.is_active()  # 2.1 is ready
    sorter.done(*sorter.get_ready())
    assert not sorter.is_active()


def test_an_abandoned_task_counts_toward_the_gate_but_its_dependants_never_become_ready() -> None:
    sorter = graph_of([["1.1", "1.2"], ["2.1", "2.2"]], [("1.1", "2.2")]).sorter(1.0)
    assert sorter.get_ready() == ("1.1", "1.2")
    sorter.abandon("1.1")  # failed
    sorter.done("1.2")
    assert sorter.phase_settled(0) and sorter.phase_open(1)
    assert sorter.get_ready() == ("2.1",)
    assert sorter.waits_for("2.2") == ["1.1"]
    sorter.done("2.1")
    assert not sorter.is_active()


def test_an_abandoned_task_not_handed_out_yet_is_never_handed_out() -> None:
    sorter = graph_of([["1.1"], ["2.1", "2.2"]]).sorter(1.0)
    sorter.abandon("2.1")  # held by the gate: skipped before its phase opened
    sorter.done(*sorter.get_ready())
    assert sorter.get_ready() == ("2.2",)
    assert not sorter.phase_settled(1)
    sorter.done("2.2")
    assert sorter.phase_settled(1) and not sorter.is_active()


@pytest.mark.parametrize("settle", ["done", "abandon"])
def test_abandon_refuses_a_task_already_settled(settle: str) -> None:
    sorter = graph_of([["1.1"]]).sorter()
    sorter.get_ready()
    getattr(sorter, settle)("1.1")
    with pytest.raises(ValueError, match="task 1.1 is already done or abandoned"):
        sorter.abandon("1.1")


def test_only_candidates_are_handed_out_and_the_others_block_their_dependants() -> None:
    sorter = graph_of([["1.1", "1.2", "1.3"]], [("1.1", "1.3")]).sorter(1.0, candidates=["1.2", "1.3"])
    assert sorter.get_ready() == ("1.2",)  # 1.1 is someone else's (in progress): 1.3 waits for it
    assert sorter.waits_for("1.3") == ["1.1"]


def test_an_ungated_task_is_ready_before_its_phase_opens() -> None:
    sorter = graph_of([["1.1"], ["2.1", "2.2"]]).sorter(1.0, ungated=["2.2"])
    assert sorter.get_ready() == ("1.1", "2.2")


@pytest.mark.parametrize("gate", [-0.1, 1.5])
def test_sorter_refuses_a_phase_gate_outside_zero_to_one(gate: float) -> None:
    with pytest.raises(ValueError, match="phase gate must be between 0 and 1"):
        graph_of([["1.1"]]).sorter(gate)


# -- levels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "waves"),
    [
        (1.0, [["1.1", "1.2"], ["1.3"], ["2.1", "2.2"], ["2.3"]]),
        (0.0, [["1.1", "1.2", "2.1"], ["1.3", "2.2"], ["2.3"]]),
    ],
)
def test_levels_are_the_waves_of_tasks_that_can_run_together(gate: float, waves: list[list[str]]) -> None:
    graph = graph_of(
        [["1.1", "1.2", "1.3"], ["2.1", "2.2", "2.3"]],
        [("1.1", "1.3"), ("1.2", "2.2"), ("2.2", "2.3")],
    )
    assert graph.levels(gate) == waves


def test_levels_leave_out_finished_tasks() -> None:
    graph = graph_of([["1.1", "1.2"], ["2.1"]], [("1.1", "1.2")])
    assert graph.levels(1.0, finished={"1.1"}) == [["1.2"], ["2.1"]]


# -- critical path -----------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "weight"),
    [("CRITICAL", 3), ("HIGH", 2), ("MEDIUM", 1), ("LOW", 1), ("", 1)],
)
def test_task_weight_follows_its_complexity_word(word: str, weight: int) -> None:
    graph = graph_of_text("## Phase 1: Setup", f"- [ ] 1.1 Build the parser {word}")
    assert graph.weight == {"1.1": weight}


def heavy_graph() -> PlanGraph:
    # Phase 1: 1.1 (1) -> 1.2 (1); 1.3 (3) alone. Phase 2: 2.1 (2); 2.2 (1) after 1.1.
    return graph_of(
        [["1.1", "1.2", "1.3"], ["2.1", "2.2"]],
        [("1.1", "1.2"), ("1.1", "2.2")],
        weights={"1.3": 3, "2.1": 2},
    )


@pytest.mark.parametrize(
    ("gate", "path", "weight"),
    [
        (1.0, ["1.3", "2.1"], 5),  # phase order lets the heaviest phase-1 task lead
        (0.8, ["1.3", "2.1"], 5),  # any gate above 0 is strict statically
        (0.0, ["1.3"], 3),  # dependencies only: 2.1 may start at once
    ],
)
def test_critical_path_is_the_heaviest_chain_under_the_gate(gate: float, path: list[str], weight: int) -> None:
    assert heavy_graph().critical_path(gate) == (path, weight)


def test_critical_path_follows_dependencies_when_they_outweigh_phase_order() -> None:
    graph = graph_of(
        [["1.1", "1.2", "1.3", "1.4"], ["2.1"]],
        [("1.1", "1.2"), ("1.2", "1.3")],
        weights={"1.4": 2},
    )
    assert graph.critical_path(1.0) == (["1.1", "1.2", "1.3", "2.1"], 4)


def test_critical_path_under_gate_zero_follows_dependencies_across_phases() -> None:
    graph = graph_of([["1.1", "1.2"], ["2.1", "2.2"]], [("1.1", "2.2")], weights={"1.2": 2, "2.2": 2})
    assert graph.critical_path(0.0) == (["1.1", "2.2"], 3)


def test_critical_path_leaves_out_finished_tasks() -> None:
    assert heavy_graph().critical_path(1.0, finished={"1.3"}) == (["1.1", "1.2", "2.1"], 4)


def test_critical_path_of_a_finished_plan_is_empty() -> None:
    assert heavy_graph().critical_path(1.0, finished={"1.1", "1.2", "1.3", "2.1", "2.2"}) == ([], 0)


@pytest.mark.parametrize(
    ("plan_file", "chain"),
    [
        # Phase 1's execution note chains 1.2-1.6, the heaviest stretch of phase 1.
        ("valid/search-rebuild.md", ["1.2", "1.3", "1.4", "1.5", "1.6"]),
        # Phase 1's execution note chains 1.3-1.7, the heaviest stretch of phase 1.
        ("corpus:seed-format/documentation-cleanup.md", ["1.3", "1.4", "1.5", "1.6", "1.7"]),
    ],
    indirect=["plan_file"], ids=["written", "corpus"],
)
def test_critical_path_of_a_real_plan_runs_through_its_sequential_note(plan_file: Path, chain: list[str]) -> None:
    loaded = load_plan(str(plan_file))
    path, weight = loaded.graph.critical_path()
    assert weight == sum(loaded.graph.weight[task_id] for task_id in path)
    assert [task_id for task_id in path if task_id.startswith("1.")] == chain
