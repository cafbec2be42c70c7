"""Cron strings of district schedules: a small validator (Dagster's own is private)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CronField:
    """One field of a 5-field cron string: its allowed range and (month, weekday) names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, text: str) -> int:
        if text.lower() in self.names:
            return self.low + self.names.index(text.lower())
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{self.name}: {text!r} is not a number"
                             + (f" or a name ({', '.join(self.names)})" if self.names else ""))
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number

    def step(self, text: str) -> int:
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= self.high):
            raise ValueError(f"{self.name}: step {text!r} must be a number from 1 to {self.high}")
        return int(text)

    def expand(self, text: str) -> set[int]:
        """The values a comma list of ``*``, ``n``, ``a-b``, ``*/s`` and ``a-b/s`` stands for."""
        values: set[int] = set()
        for item in text.split(","):
            body, slash, step_text = item.partition("/")
            step = self.step(step_text) if slash else 1
            if body == "*":
                low, high = self.low, self.high
            elif "-" in body:
                start, _, end = body.partition("-")
                low, high = self.value(start), self.value(end)
                if low > high:
                    raise ValueError(f"{self.name}: range {body} runs backwards; write it as two "
                                     "ranges")
            elif slash:
                raise ValueError(f"{self.name}: a step needs '*' or a range before '/', not "
                                 f"{body!r}")
            else:
                low = high = self.value(body)
            values.update(range(low, high + 1, step))
        return values


CRON_FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day of month", 1, 31),
    CronField("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                               "oct", "nov", "dec")),
    CronField("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def normalize_cron(expression: str) -> str:
    """The cron string with single spaces; ValueError naming the field if it is not a 5-field
    cron string (minute hour day-of-month month day-of-week) that can fire."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"a cron string has 5 fields (minute hour day-of-month month "
                         f"day-of-week), {expression!r} has {len(fields)}")
    values = [field.expand(text) for field, text in zip(CRON_FIELDS, fields, strict=True)]
    days, months = values[2], values[3]
    if min(days) > max(DAYS_IN_MONTH[month - 1] for month in months):
        raise ValueError(f"day of month {fields[2]} never occurs in month {fields[3]}")
    return " ".join(fields)
