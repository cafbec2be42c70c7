"""Step hooks that report a run's progress to in-process listeners (the CLI's progress bar)."""

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
