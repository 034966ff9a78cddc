"""docs/protocol.md is the specification: pin its version and check it covers the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgpack
import pytest

from protocol import CONTROLLER_COMMANDS, ERROR_CODES, NODE_COMMANDS, PROTOCOL_VERSION, SPEC_VERSION
from protocol.schema import CommandSpec

SPEC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = SPEC.index(f"### {title}\n")
    end = SPEC.index("\n## ", start)
    return SPEC[start:end]


def _documented(title: str) -> dict[str, str]:
    body = _section(title)
    parts = re.split(r"^#### `([a-z0-9_.]+)`\s*$", body, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_spec_version_is_pinned_to_the_code() -> None:
    m = re.search(
        r"Specification version: \*\*([0-9]+\.[0-9]+)\*\* \(protocol major version `([0-9]+)`\)", SPEC
    )
    assert m, "the version line is missing"
    assert m.group(1) == SPEC_VERSION
    assert int(m.group(2)) == PROTOCOL_VERSION
    assert int(SPEC_VERSION.split(".")[0]) == PROTOCOL_VERSION
    assert f"| {SPEC_VERSION} |" in SPEC, "the version history lacks the current version"


@pytest.mark.parametrize(
    ("title", "commands"), [("Node commands", NODE_COMMANDS), ("Controller commands", CONTROLLER_COMMANDS)]
)
def test_every_command_is_documented_and_nothing_more(title: str, commands: dict[str, CommandSpec]) -> None:
    assert set(_documented(title)) == set(commands)


@pytest.mark.parametrize(
    ("title", "commands"), [("Node commands", NODE_COMMANDS), ("Controller commands", CONTROLLER_COMMANDS)]
)
def test_every_argument_and_result_field_is_documented(title: str, commands: dict[str, CommandSpec]) -> None:
    docs = _documented(title)
    for name, spec in commands.items():
        for arg in spec.args:
            assert f"| `{arg.name}` |" in docs[name], f"{name}: argument {arg.name} undocumented"
        for field, _ in spec.result:
            assert f"`{field}`" in docs[name], f"{name}: result field {field} undocumented"
        for code in spec.errors:
            assert f"`{code.value}`" in docs[name], f"{name}: error {code.value} undocumented"


def test_error_code_table_is_the_closed_set() -> None:
    body = SPEC[SPEC.index("## 4. Error codes") : SPEC.index("## 5.")]
    table = set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.M))
    assert table == set(ERROR_CODES)


def test_worked_examples_are_byte_exact() -> None:
    pairs = re.findall(r"```json\n(.*?)\n```\s*```hex\n(.*?)\n```", SPEC, flags=re.S)
    assert len(pairs) >= 6
    for js, hx in pairs:
        assert msgpack.packb(json.loads(js), use_bin_type=True) == bytes.fromhex(hx), js
