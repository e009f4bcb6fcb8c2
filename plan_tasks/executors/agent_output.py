"""Reading what a coding-agent CLI printed: its final message, what it cost, whether it failed.

One parser per output format (``docs/agents.md`` lists what each field is):

* Claude Code, ``--output-format json``: one ``{"type": "result", ...}`` object
  with ``result``, ``total_cost_usd``, ``usage`` and ``num_turns``; ``is_error``
  says it failed;
* Codex CLI, ``exec --json``: JSON lines; the last ``agent_message`` item is
  the answer, ``turn.completed`` events carry ``usage``, ``turn.failed`` and
  ``error`` events the failure;
* Gemini CLI, ``--output-format json``: one (indented) object with
  ``response``, ``stats.models.*`` and, on failure, ``error``;
* OpenCode, ``run --format json``: JSON lines; ``text`` parts make up the
  answer, ``step_finish`` parts carry ``cost`` and ``tokens``, ``error`` events
  the failure;
* Aider has no JSON output: its answer is the text it printed less its own
  status lines, its cost the ``Tokens: ... Cost: $X message`` lines, and an API
  error a ``litellm.<Name>Error`` line (aider may exit 0 after one).

Output is stdout and stderr together, so every parser skips lines that are not
what it looks for (warnings, progress).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from plan_tasks.executors.outcome import TRANSIENT_TEXT, AgentUsage, Category

OBJECT_START = re.compile(r"^[ \t]*\{", re.MULTILINE)


@dataclass(frozen=True)
class AgentReply:
    """What a parser found: the final message (None: none in the expected shape), the
    usage the CLI reported, and the error it reported with its category when known."""

    message: str | None
    usage: AgentUsage | None = None
    error: str | None = None
    category: Category | None = None


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object that starts a line, one per line or indented over several."""
    decoder = json.JSONDecoder()
    position = 0
    for match in OBJECT_START.finditer(text):
        if match.start() < position:
            continue  # inside an object already read
        try:
            value, end = decoder.raw_decode(text, match.end() - 1)
        except ValueError:
            continue
        if isinstance(value, dict):
            position = end
            yield value


def classify_text(text: str) -> Category:
    """Transient when the error reads like a rate limit, an overload or a passing fault."""
    return "transient" if TRANSIENT_TEXT.search(text) else "permanent"


def _count(*values: Any) -> int | None:
    """The sum of the whole numbers among ``values``; None if there is none."""
    numbers = [value for value in values if isinstance(value, int) and not isinstance(value, bool)]
    return sum(numbers) if numbers else None


def _money(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def parse_claude(text: str) -> AgentReply:
    results = [value for value in json_objects(text) if value.get("type") == "result"]
    if not results:
        return AgentReply(None)
    result = results[-1]
    usage = result.get("usage") if isinstance(result.get("usage"), dict) else {}
    reported = AgentUsage(
        cost_usd=_money(result.get("total_cost_usd")),
        input_tokens=_count(usage.get("input_tokens"), usage.get("cache_creation_input_tokens"),
                            usage.get("cache_read_input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        turns=_count(result.get("num_turns")),
    )
    message = result.get("result") if isinstance(result.get("result"), str) else None
    subtype = str(result.get("subtype") or "")
    if result.get("is_error") or subtype.startswith("error"):
        error = message or subtype or "is_error"
        return AgentReply(message, reported, error, classify_text(error))
    return AgentReply(message, reported)


def parse_codex(text: str) -> AgentReply:
    message, error = None, None
    input_tokens: list[Any] = []
    output_tokens: list[Any] = []
    for event in json_objects(text):
        kind, item = event.get("type"), event.get("item")
        if kind == "item.completed" and isinstance(item, dict) and item.get("type") == "agent_message":
            message = item.get("text") if isinstance(item.get("text"), str) else message
        elif kind == "turn.completed" and isinstance(event.get("usage"), dict):
            input_tokens.append(event["usage"].get("input_tokens"))
            output_tokens.append(event["usage"].get("output_tokens"))
        elif kind == "turn.failed" and isinstance(event.get("error"), dict):
            error = str(event["error"].get("message") or "turn failed")
        elif kind == "error":
            error = str(event.get("message") or "error")
    usage = AgentUsage(input_tokens=_count(*input_tokens), output_tokens=_count(*output_tokens))
    return AgentReply(message, None if usage.is_empty() else usage, error,
                      classify_text(error) if error else None)


def parse_gemini(text: str) -> AgentReply:
    found = [value for value in json_objects(text) if {"response", "error", "stats"} & value.keys()]
    if not found:
        return AgentReply(None)
    result = found[-1]
    models = (result.get("stats") or {}).get("models") if isinstance(result.get("stats"), dict) else None
    models = [model for model in (models or {}).values() if isinstance(model, dict)]
    tokens = [model.get("tokens") if isinstance(model.get("tokens"), dict) else {} for model in models]
    api = [model.get("api") if isinstance(model.get("api"), dict) else {} for model in models]
    usage = AgentUsage(
        input_tokens=_count(*(part.get("prompt") for part in tokens)),
        output_tokens=_count(*(part.get("candidates") for part in tokens), *(part.get("thoughts") for part in tokens)),
        turns=_count(*(part.get("totalRequests") for part in api)),
    )
    message = result.get("response") if isinstance(result.get("response"), str) else None
    error = result.get("error")
    if isinstance(error, dict):
        described = str(error.get("message") or error.get("type") or "error")
        return AgentReply(message, None if usage.is_empty() else usage, described, classify_text(described))
    return AgentReply(message, None if usage.is_empty() else usage)


def parse_opencode(text: str) -> AgentReply:
    steps: list[list[str]] = [[]]
    costs, inputs, outputs, error, category = [], [], [], None, None
    for event in json_objects(text):
        kind = event.get("type")
        part = event.get("part") if isinstance(event.get("part"), dict) else {}
        if kind == "step_start":
            steps.append([])
        elif kind == "text" and isinstance(part.get("text"), str):
            steps[-1].append(part["text"])
        elif kind == "step_finish":
            tokens = part.get("tokens") if isinstance(part.get("tokens"), dict) else {}
            cache = tokens.get("cache") if isinstance(tokens.get("cache"), dict) else {}
            costs.append(_money(part.get("cost")))
            inputs += [tokens.get("input"), cache.get("read"), cache.get("write")]
            outputs += [tokens.get("output"), tokens.get("reasoning")]
        elif kind == "error":
            error, category = _opencode_error(event.get("error"))
    answered = [step for step in steps if "".join(step).strip()]
    known_costs = [cost for cost in costs if cost is not None]
    usage = AgentUsage(cost_usd=sum(known_costs) if known_costs else None, input_tokens=_count(*inputs),
                       output_tokens=_count(*outputs), turns=len(costs) or None)
    return AgentReply("".join(answered[-1]) if answered else None, None if usage.is_empty() else usage,
                      error, category)


def _opencode_error(error: Any) -> tuple[str, Category]:
    """An error event's text and category: its ``isRetryable`` or status code, else its text."""
    if not isinstance(error, dict):
        return str(error), classify_text(str(error))
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    text = str(data.get("message") or error.get("name") or "error")
    status = data.get("statusCode")
    if data.get("isRetryable") is True or status == 429 or (isinstance(status, int) and status >= 500):
        return text, "transient"
    if data.get("isRetryable") is False or isinstance(status, int):
        return text, "permanent"
    return text, classify_text(text)


AIDER_STATUS = re.compile(
    r"^(?:Aider v\S+|Main model:|Weak model:|Editor model:|Model:|Git repo:|Repo-map:|Added .+ to the chat|"
    r"Use /help|Cur working dir:|Tokens: |Retrying in |Warning: |https://aider\.chat/|litellm\.\w+Error)")
AIDER_TOKENS = re.compile(r"^Tokens: (?P<sent>[\d.,]+[kKmM]?) sent,(?: [\d.,]+[kKmM]? cache [a-z ]+,)* "
                          r"(?P<received>[\d.,]+[kKmM]?) received\.(?: Cost: \$(?P<cost>[\d.]+) message)?",
                          re.MULTILINE)
AIDER_ERROR = re.compile(r"^litellm\.(?P<name>\w+Error)\b.*$", re.MULTILINE)
AIDER_TRANSIENT = ("RateLimitError", "APIConnectionError", "InternalServerError", "ServiceUnavailableError",
                   "APIError")


def parse_aider(text: str) -> AgentReply:
    sent, received, costs = [], [], []
    for match in AIDER_TOKENS.finditer(text):
        sent.append(_aider_number(match.group("sent")))
        received.append(_aider_number(match.group("received")))
        if match.group("cost"):
            costs.append(float(match.group("cost")))
    usage = AgentUsage(cost_usd=sum(costs) if costs else None, input_tokens=_count(*sent),
                       output_tokens=_count(*received), turns=len(sent) or None)
    message = "\n".join(line for line in text.splitlines() if not AIDER_STATUS.match(line)).strip()
    errors = list(AIDER_ERROR.finditer(text))
    if errors:
        name = errors[-1].group("name")
        category: Category = "transient" if name in AIDER_TRANSIENT else classify_text(errors[-1].group(0))
        return AgentReply(message, None if usage.is_empty() else usage, errors[-1].group(0), category)
    return AgentReply(message, None if usage.is_empty() else usage)


def _aider_number(text: str) -> int:
    """``2.3k`` -> 2300, ``1.2M`` -> 1200000, ``845`` -> 845."""
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    digits = text[:-1] if factor > 1 else text
    return round(float(digits.replace(",", "")) * factor)
