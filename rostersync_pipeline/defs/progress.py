"""Step hooks that report a run's progress to in-process listeners (the CLI's progress bar, the
console's launch worker).

The hooks are attached to a run only while someone listens (:func:`with_step_hooks`, called by
the runner): a run launched from the UI or a schedule has no listener, and would only log two
hook events per step for nothing.
"""

from collections.abc import Callable

import dagster as dg

StepListener = Callable[[str, bool], None]
_listeners: list[StepListener] = []


def add_step_listener(listener: StepListener) -> None:
    _listeners.append(listener)


def remove_step_listener(listener: StepListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


@dg.success_hook(name="report_step_success")
def report_step_success(context: dg.HookContext) -> None:
    for listener in list(_listeners):
        listener(context.step_key, True)


@dg.failure_hook(name="report_step_failure")
def report_step_failure(context: dg.HookContext) -> None:
    for listener in list(_listeners):
        listener(context.step_key, False)


def with_step_hooks(job: dg.JobDefinition) -> dg.JobDefinition:
    """``job`` reporting each step to the listeners, if there are any now; else ``job``."""
    if not _listeners:
        return job
    return job.with_hooks({report_step_success, report_step_failure})
