"""Field validation shared by the JSON API and the web forms.

Validators collect every problem in an :class:`Invalid` error mapping field
names to messages, instead of stopping at the first. Messages are constant
English strings with ``%(name)s`` parameters, so that the web UI can look them
up in the translation catalogue before filling in the parameters, and the API
can show them as they are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.sanitize import plain_text

# The dates a person may type (availability windows, report periods).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)


@dataclass(frozen=True)
class FieldError:
    message: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, translate: Any = None) -> str:
        template = translate(self.message) if translate else self.message
        return template % dict(self.params) if self.params else template


class Invalid(Exception):
    """One or more fields are invalid."""

    def __init__(self, errors: Mapping[str, FieldError]) -> None:
        super().__init__(", ".join(f"{k}: {v.render()}" for k, v in errors.items()))
        self.errors = dict(errors)

    def messages(self, translate: Any = None) -> dict[str, str]:
        return {name: err.render(translate) for name, err in self.errors.items()}


class Collector:
    """Gathers field errors while values are read one by one."""

    def __init__(self) -> None:
        self.errors: dict[str, FieldError] = {}

    def add(self, name: str, message: str, **params: object) -> None:
        self.errors.setdefault(name, FieldError(message, params))

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(self.errors)

    # Readers return None after recording an error, so that validation goes on.

    def text(
        self,
        data: Mapping[str, Any],
        name: str,
        *,
        required: bool = False,
        min_length: int = 0,
        max_length: int = 200,
        pattern: str | None = None,
    ) -> str | None:
        value = data.get(name)
        if value is None or value == "":
            if required:
                self.add(name, "is required")
            return None
        if not isinstance(value, str):
            self.add(name, "must be text")
            return None
        value = plain_text(value).strip()
        if required and not value:
            self.add(name, "is required")
            return None
        if len(value) < min_length:
            self.add(name, "must be at least %(min)d characters", min=min_length)
            return None
        if len(value) > max_length:
            self.add(name, "must be at most %(max)d characters", max=max_length)
            return None
        if pattern and not re.fullmatch(pattern, value):
            self.add(name, "has an invalid format")
            return None
        return value

    def choice(
        self, data: Mapping[str, Any], name: str, choices: tuple[str, ...], *, required: bool
    ) -> str | None:
        value = data.get(name)
        if value is None or value == "":
            if required:
                self.add(name, "is required")
            return None
        if value not in choices:
            self.add(name, "must be one of %(choices)s", choices=", ".join(choices))
            return None
        return str(value)

    def number(
        self,
        data: Mapping[str, Any],
        name: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        label: str | None = None,
    ) -> float | None:
        key = label or name
        value = data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.add(key, "must be a number")
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.add(key, "must be a number")
            return None
        if not math.isfinite(number):
            self.add(key, "must be a number")
            return None
        if minimum is not None and (number < minimum or (exclusive_minimum and number == minimum)):
            self.add(key, "must be between %(min)s and %(max)s", min=minimum, max=maximum)
            return None
        if maximum is not None and number > maximum:
            self.add(key, "must be between %(min)s and %(max)s", min=minimum, max=maximum)
            return None
        return number

    def decimal(
        self,
        data: Mapping[str, Any],
        name: str,
        *,
        places: int,
        positive: bool = True,
        maximum: Decimal = Decimal("1000000000"),
        label: str | None = None,
    ) -> Decimal | None:
        key = label or name
        value = data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add(key, "must be a decimal number")
            return None
        try:
            number = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            self.add(key, "must be a decimal number")
            return None
        if not number.is_finite():
            self.add(key, "must be a decimal number")
            return None
        if positive and number < 0:
            self.add(key, "must not be negative")
            return None
        if number >= maximum:
            self.add(key, "is too large")
            return None
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            self.add(key, "must have at most %(places)d decimals", places=places)
            return None
        return number

    def date(self, data: Mapping[str, Any], name: str) -> date | None:
        value = data.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.add(name, "must be a date (YYYY-MM-DD)")
            return None
        try:
            parsed = date.fromisoformat(value.strip()[:10])
        except ValueError:
            self.add(name, "must be a date (YYYY-MM-DD)")
            return None
        if not MIN_DATE <= parsed <= MAX_DATE:
            # Dates are computed with (an expiry is the day after available_until):
            # 9999-12-31 would overflow there.
            bounds = {"min": str(MIN_DATE), "max": str(MAX_DATE)}
            self.add(name, "must be between %(min)s and %(max)s", **bounds)
            return None
        return parsed
