"""Graph invariants on generated plans.

Plans are generated as Markdown text (phases, tasks, dependencies on earlier
tasks, execution notes, shared files, complexity words, checked boxes) and
loaded through ``load_text``, so the parser, the graph and the checks all take
part. Every generated plan is valid: edges only point forward in the document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_tasks.graph import PlanGraph
from plan_tasks.load import LoadedPlan, load_text

FILES = ("src/app.py", "src/cli.py", "docs/guide.md")
WORDS = ("", "LOW", "MEDIUM", "HIGH", "CRITICAL")
GATES = (0.0, 0.5, 0.8, 1.0)

property_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class GeneratedPlan:
    """The Markdown text and what it declares, to compare the graph against."""

    text: str
    phases: list[list[str]]
    sequential_phases: set[int] = field(default_factory=set)
    depends: dict[str, list[str]] = field(default_factory=dict)
    notes: list[list[str]] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)


@st.composite
def generated_plans(draw: st.DrawFn) -> GeneratedPlan:
    sizes = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    if sum(sizes) == 0:
        sizes[0] = 1
    phases = [[f"{number}.{position}" for position in range(1, size + 1)] for number, size in enumerate(sizes, 1)]
    all_ids = [task_id for phase in phases for task_id in phase]
    plan = GeneratedPlan(text="", phases=phases)

    notes_by_phase: dict[int, list[str]] = {}
    for _ in range(draw(st.integers(0, 3))):
        if len(all_ids) < 2:
            break
        listed = draw(st.lists(st.sampled_from(all_ids), min_size=2, max_size=4, unique=True))
        plan.notes.append(listed)  # kept in the order written, which need not be document order
        notes_by_phase.setdefault(draw(st.integers(0, len(phases) - 1)), []).append(
            f"**Execution Note:** Tasks {', '.join(listed)} are [SEQUENTIAL] - note {len(plan.notes)}"
        )

    lines = ["# Generated plan", ""]
    earlier: list[str] = []
    for index, phase in enumerate(phases):
        sequential = draw(st.booleans())
        if sequential:
            plan.sequential_phases.add(index)
        lines += [f"## Phase {index + 1}: Part {index + 1}{' [SEQUENTIAL]' if sequential else ''}", ""]
        for note in notes_by_phase.get(index, []):
            lines += [note, ""]
        for task_id in phase:
            depends = draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []
            files = draw(st.lists(st.sampled_from(FILES), max_size=2, unique=True))
            word = draw(st.sampled_from(WORDS))
            checked = draw(st.integers(0, 4)) == 0
            plan.depends[task_id] = depends
            plan.files[task_id] = files
            if checked:
                plan.checked.add(task_id)
            text = f"- [{'x' if checked else ' '}] {task_id} Do the work"
            text += "".join(f" in `{path}`" for path in files)
            text += f" {word}" if word else ""
            text += f" (depends: {', '.join(depends)})" if depends else ""
            lines.append(text)
            earlier.append(task_id)
        lines.append("")
    plan.text = "\n".join(lines)
    return plan


def load(generated: GeneratedPlan) -> LoadedPlan:
    return load_text(generated.text, "generated.md")


def unfinished(loaded: LoadedPlan) -> list[str]:
    return [task.id for task in loaded.plan.tasks if not task.checked]


def checked(loaded: LoadedPlan) -> set[str]:
    return {task.id for task in loaded.plan.tasks if task.checked}


def heaviest_chain_weight(graph: PlanGraph, tasks: list[str], strict: bool) -> int:
    """The critical path weight by brute force: tasks are in document order,
    and a chain may step along an edge, or (strict) into any later phase."""
    best: dict[str, int] = {}
    for position, task_id in enumerate(tasks):
        before = [
            best[earlier]
            for earlier in tasks[:position]
            if graph.edge(earlier, task_id) is not None
            or (strict and graph.phase_of[earlier] < graph.phase_of[task_id])
        ]
        best[task_id] = graph.weight[task_id] + max(before, default=0)
    return max(best.values(), default=0)


@property_settings
@given(generated_plans())
def test_graph_holds_exactly_the_declared_edges_with_the_first_reason(generated: GeneratedPlan) -> None:
    order = {task_id: position for position, task_id in enumerate(task for phase in generated.phases for task in phase)}
    expected: dict[tuple[str, str], str] = {}
    for task_id, upstreams in generated.depends.items():
        for upstream in upstreams:
            expected[(upstream, task_id)] = "depends"
    chains = [sorted(note, key=order.__getitem__) for note in generated.notes]
    chains += [generated.phases[index] for index in generated.sequential_phases]
    for chain in chains:
        for pair in zip(chain, chain[1:]):
            expected.setdefault(pair, "sequential")
    for phase in generated.phases:
        for path in FILES:
            holders = [task_id for task_id in phase if path in generated.files[task_id]]
            for pair in zip(holders, holders[1:]):
                expected.setdefault(pair, "file")
    graph = load(generated).graph
    assert {(edge.source, edge.target): edge.kind for edge in graph.edges} == expected


@property_settings
@given(generated_plans(), st.sampled_from(GATES))
def test_levels_partition_the_unfinished_tasks(generated: GeneratedPlan, gate: float) -> None:
    loaded = load(generated)
    levels = loaded.graph.levels(gate, checked(loaded))
    flat = [task_id for level in levels for task_id in level]
    assert sorted(flat) == sorted(unfinished(loaded))
    assert all(levels)


@property_settings
@given(generated_plans(), st.sampled_from(GATES))
def test_every_edge_runs_from_an_earlier_level_to_a_later_one(generated: GeneratedPlan, gate: float) -> None:
    loaded = load(generated)
    levels = loaded.graph.levels(gate, checked(loaded))
    level_of = {task_id: number for number, level in enumerate(levels) for task_id in level}
    for edge in loaded.graph.edges:
        if edge.source in level_of and edge.target in level_of:
            assert level_of[edge.source] < level_of[edge.target], edge


@property_settings
@given(generated_plans())
def test_with_strict_gate_no_level_mixes_phases_and_phases_come_in_order(generated: GeneratedPlan) -> None:
    loaded = load(generated)
    graph = loaded.graph
    phases_per_level = [{graph.phase_of[task_id] for task_id in level} for level in graph.levels(1.0, checked(loaded))]
    assert all(len(phases) == 1 for phases in phases_per_level)
    sequence = [phases.pop() for phases in phases_per_level]
    assert sequence == sorted(sequence)


@property_settings
@given(generated_plans(), st.sampled_from(GATES))
def test_critical_path_is_a_chain_as_heavy_as_the_heaviest_one(generated: GeneratedPlan, gate: float) -> None:
    loaded = load(generated)
    graph = loaded.graph
    remaining = unfinished(loaded)
    path, weight = graph.critical_path(gate, checked(loaded))
    strict = gate > 0
    assert set(path) <= set(remaining)
    for earlier, later in zip(path, path[1:]):
        assert graph.edge(earlier, later) is not None or (strict and graph.phase_of[earlier] < graph.phase_of[later])
    assert weight == sum(graph.weight[task_id] for task_id in path)
    assert weight >= max((graph.weight[task_id] for task_id in remaining), default=0)
    assert weight <= sum(graph.weight[task_id] for task_id in remaining)
    assert weight == heaviest_chain_weight(graph, remaining, strict)


@property_settings
@given(generated_plans(), st.sampled_from(GATES), st.data())
def test_sorter_hands_out_every_task_once_and_only_after_its_predecessors(
    generated: GeneratedPlan, gate: float, data: st.DataObject
) -> None:
    loaded = load(generated)
    graph = loaded.graph
    finished = checked(loaded)
    phase_sizes = [len(phase) for phase in generated.phases]
    sorter = graph.sorter(gate, finished)
    handed_out: list[str] = []
    running: list[str] = []
    while sorter.is_active():
        for task_id in sorter.get_ready():
            assert all(upstream in finished for upstream in graph.predecessors[task_id]), task_id
            for phase in range(graph.phase_of[task_id]):
                done_in_phase = sum(1 for other in finished if graph.phase_of[other] == phase)
                assert done_in_phase >= math.ceil(gate * phase_sizes[phase] - 1e-9), (task_id, phase)
            handed_out.append(task_id)
            running.append(task_id)
        assert running, "the sorter is active but hands nothing out"
        finishing = data.draw(st.lists(st.sampled_from(running), min_size=1, unique=True))
        sorter.done(*finishing)
        finished.update(finishing)
        running = [task_id for task_id in running if task_id not in finishing]
    assert sorted(handed_out) == sorted(unfinished(loaded))
