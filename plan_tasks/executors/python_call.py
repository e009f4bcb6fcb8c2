"""The python executor: ``Call: `package.module:function``` calls the function
with the task (a :class:`~plan_tasks.executors.outcome.TaskRequest`).

The function's return value, if a string, becomes the task's findings. An
exception fails the task: ``TaskFailure`` keeps its category, ``TimeoutError``
and ``ConnectionError`` are transient, anything else is permanent.
"""

from __future__ import annotations

import importlib

from plan_tasks.executors import python_target
from plan_tasks.executors.outcome import TaskFailure, TaskOutcome, TaskRequest


def run_python(request: TaskRequest) -> TaskOutcome:
    target = python_target(request.task)
    if target is None:
        raise TaskFailure(f"task {request.task.id} has no `Call:` line", "permanent")
    module_name, _, attribute = target.partition(":")
    try:
        function = importlib.import_module(module_name)
        for part in attribute.split("."):
            function = getattr(function, part)
    except (ImportError, AttributeError) as error:
        raise TaskFailure(f"cannot import {target}: {error}", "permanent") from None
    except Exception as error:  # noqa: BLE001 - importing user code runs it: SyntaxError, RuntimeError...
        raise TaskFailure(f"cannot import {target}: {type(error).__name__}: {error}", "permanent") from error
    try:
        result = function(request)
    except TaskFailure:
        raise
    except (TimeoutError, ConnectionError) as error:
        raise TaskFailure(f"{type(error).__name__}: {error}", "transient") from error
    except Exception as error:  # noqa: BLE001 - a user function may raise anything; it fails the task
        raise TaskFailure(f"{type(error).__name__}: {error}", "permanent") from error
    return TaskOutcome(output=str(result) if result is not None else "",
                       findings=result if isinstance(result, str) else None)
