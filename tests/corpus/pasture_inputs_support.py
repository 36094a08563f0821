"""Helpers shared by the test_pasture_inputs modules."""

from __future__ import annotations

import pytest

from tests.corpus import inputs


def corpus(kind: str) -> tuple[inputs.Variant, ...]:
    found = {"object": inputs.objects, "activity": inputs.activities, "actor": inputs.actors}
    variants = found[kind]()
    reason = inputs.missing_reason("fediverse-pasture-inputs", "funfedi-parsing-test-cases")
    if reason:
        pytest.skip(f"{reason}: pip install -e '.[test]' installs the corpora")
    assert variants
    return variants
