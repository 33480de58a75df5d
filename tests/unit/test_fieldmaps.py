"""Declared field mappings (`syncmodel.fieldmaps`): how a value crosses each way, templates,
and the check against the fields a tool and the platform say they have."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from incident_sync.syncmodel.discovered import ToolField
from incident_sync.syncmodel.fieldmaps import (
    Crossed,
    FieldMap,
    Refused,
    Skipped,
    ValueMap,
    check,
    from_tool,
    placeholders,
    render,
    to_tool,
)

PLATFORM = [
    ToolField(name="title", label="Name", kind="string"),
    ToolField(name="description", label="Summary", kind="text"),
    ToolField(name="severity", label="Severity", kind="option", allowed=("SEV1", "SEV2")),
    ToolField(name="custom.Team", label="Team", kind="option", allowed=("Payments", "Search")),
    ToolField(name="custom.Affected service", label="Affected service", kind="reference"),
    ToolField(name="custom.Ticket", label="Ticket", kind="string", writable=False),
    ToolField(name="custom.Free", label="Free", kind="option"),  # options not listed
]
TOOL = [
    ToolField(name="short_description", label="Short description", kind="string", max_length=160),
    ToolField(name="description", label="Description", kind="text"),
    ToolField(name="assignment_group", label="Group", kind="reference", reference="sys_user_group"),
    ToolField(name="cmdb_ci", label="CI", kind="reference", reference="cmdb_ci"),
    ToolField(name="category", label="Category", kind="option", allowed=("software", "network")),
    ToolField(name="impact", label="Impact", kind="number"),
    ToolField(name="number", label="Number", kind="string", writable=False),
]


def fm(**kw: object) -> FieldMap:
    return FieldMap.model_validate(kw)


TEAM = fm(
    platform="custom.Team",
    tool="category",
    value_map={"values": {"Payments": "software", "Search": "network"}},
)


# -- crossing ---------------------------------------------------------------------------------
def test_a_value_map_crosses_both_ways() -> None:
    assert to_tool(TEAM, "Payments") == Crossed("software")
    assert from_tool(TEAM, "network") == Crossed("Search")


def test_an_unmapped_value_is_skipped_defaulted_or_refused_as_declared() -> None:
    values = {"values": {"Payments": "software"}}
    skip = fm(platform="custom.Team", tool="category", value_map=values)
    assert isinstance(to_tool(skip, "Ads"), Skipped)
    default = fm(
        platform="custom.Team",
        tool="category",
        value_map={**values, "unmapped": "default", "default": "network", "reverse_default": "X"},
    )
    assert to_tool(default, "Ads") == Crossed("network")
    assert from_tool(default, "hardware") == Crossed("X")
    refuse = fm(platform="custom.Team", tool="category", value_map={**values, "unmapped": "refuse"})
    refused = to_tool(refuse, "Ads")
    assert isinstance(refused, Refused)
    assert "'Ads'" in refused.reason and "custom.Team <-> category" in refused.reason


def test_a_default_must_be_given_for_each_direction_that_uses_it() -> None:
    with pytest.raises(ValidationError, match="reverse_default"):
        fm(
            platform="custom.Team",
            tool="category",
            value_map={"values": {"a": "b"}, "unmapped": "default", "default": "b"},
        )
    one_way = fm(
        platform="custom.Team",
        tool="category",
        direction="outbound",
        value_map={"values": {"a": "b"}, "unmapped": "default", "default": "b"},
    )
    assert to_tool(one_way, "z") == Crossed("b")


def test_the_direction_is_kept() -> None:
    out = fm(platform="title", tool="short_description", direction="outbound")
    assert isinstance(from_tool(out, "x"), Skipped)
    inbound = fm(platform="title", tool="short_description", direction="inbound")
    assert isinstance(to_tool(inbound, "x"), Skipped)
    assert from_tool(inbound, "x") == Crossed("x")


def test_a_many_to_one_map_is_not_read_backwards_without_a_reverse() -> None:
    many = fm(platform="severity", tool="impact", value_map={"values": {"SEV1": "1", "SEV2": "1"}})
    assert isinstance(from_tool(many, "1"), Refused)
    given_back = fm(
        platform="severity",
        tool="impact",
        value_map={"values": {"SEV1": "1", "SEV2": "1"}, "reverse": {"1": "SEV1"}},
    )
    assert from_tool(given_back, "1") == Crossed("SEV1")


@given(st.dictionaries(st.text(min_size=1), st.text(min_size=1), min_size=1, max_size=20))
def test_a_one_to_one_map_round_trips_every_value(values: dict[str, str]) -> None:
    vm = ValueMap(values=values)
    mapping = FieldMap(platform="custom.X", tool="f", value_map=vm)
    one_to_one = len(set(values.values())) == len(values)
    for platform_value in values:
        there = to_tool(mapping, platform_value)
        assert isinstance(there, Crossed)
        back = from_tool(mapping, there.value)
        if one_to_one:
            assert back == Crossed(platform_value)
        else:
            assert isinstance(back, Refused)


def test_empty_values_cross_as_they_are() -> None:
    assert to_tool(TEAM, None) == Crossed(None)
    assert from_tool(TEAM, "") == Crossed("")


# -- templates --------------------------------------------------------------------------------
def test_a_template_fills_in_the_platforms_fields_and_the_link() -> None:
    m = fm(
        platform="description",
        tool="description",
        direction="outbound",
        template="{description}\n\nTeam: {custom.Team}\nIncident: {url}",
    )
    crossed = to_tool(m, "DB down", {"custom.Team": "Payments", "url": "https://x/i/1"})
    assert crossed == Crossed("DB down\n\nTeam: Payments\nIncident: https://x/i/1")
    assert render("{a}-{b}", {"a": "1"}) == "1-"


@pytest.mark.parametrize("bad", ["{title!r}", "{title:>10}", "{0[1]}", "{}", "{title"])
def test_a_template_is_only_placeholders_of_names(bad: str) -> None:
    with pytest.raises(ValueError, match="template"):
        placeholders(bad)
    with pytest.raises(ValidationError):
        fm(platform="description", tool="description", direction="outbound", template=bad)


def test_a_template_writes_only_to_the_tool_and_not_with_a_value_map() -> None:
    with pytest.raises(ValidationError, match="outbound"):
        fm(platform="description", tool="description", template="{title}")
    with pytest.raises(ValidationError, match="not both"):
        fm(
            platform="description",
            tool="description",
            direction="outbound",
            template="{title}",
            value_map={"values": {"a": "b"}},
        )


# -- the check --------------------------------------------------------------------------------
def test_the_documented_examples_pass_the_check() -> None:
    mappings = [
        TEAM,
        fm(platform="custom.Affected service", tool="cmdb_ci"),
        fm(platform="title", tool="short_description"),
        fm(
            platform="description",
            tool="description",
            direction="outbound",
            template="{description}\n{url}",
        ),
    ]
    assert check(mappings, TOOL, PLATFORM) == []


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        (fm(platform="title", tool="u_nothing"), "the tool has no field 'u_nothing'"),
        (fm(platform="custom.Nope", tool="short_description"), "platform has no field"),
        (fm(platform="title", tool="number", direction="outbound"), "'number' cannot be written"),
        (fm(platform="custom.Ticket", tool="number", direction="inbound"), "cannot be written"),
        (fm(platform="title", tool="impact"), "a string value cannot be written into"),
        (fm(platform="custom.Team", tool="category"), "['Payments', 'Search'] are not allowed"),
        (
            fm(platform="title", tool="category"),
            "a string value cannot be written into the tool's option field 'category'",
        ),
        (fm(platform="custom.Free", tool="category"), "takes only its options"),
        (
            fm(platform="custom.Team", tool="category", value_map={"values": {"Payments": "x"}}),
            "does not allow ['x']",
        ),
        (
            fm(
                platform="severity",
                tool="category",
                value_map={"values": {"SEV1": "software", "SEV2": "software"}},
            ),
            "needs a `reverse` map",
        ),
        (
            fm(
                platform="custom.Team",
                tool="impact",
                direction="outbound",
                template="{title}",
            ),
            "a template writes text",
        ),
        (
            fm(platform="description", tool="description", direction="outbound", template="{x}"),
            "the template names no platform field ['x']",
        ),
    ],
)
def test_each_problem_is_named(mapping: FieldMap, says: str) -> None:
    problems = check([mapping], TOOL, PLATFORM)
    assert any(says in p for p in problems), problems
    assert all(p.startswith(mapping.name) for p in problems), problems


def test_a_tool_field_written_twice_is_refused() -> None:
    twice = [
        fm(platform="title", tool="short_description"),
        fm(platform="description", tool="short_description", direction="outbound"),
    ]
    problems = check(twice, TOOL, PLATFORM)
    assert problems == [
        "description -> short_description: the tool field 'short_description' is written by "
        "title <-> short_description"
    ]


def test_a_mapped_value_longer_than_the_field_keeps_is_refused() -> None:
    m = fm(platform="custom.Team", tool="short_description", value_map={"values": {"x": "y" * 161}})
    assert any("longer than" in p for p in check([m], TOOL, PLATFORM))


# -- the schema the control API shows --------------------------------------------------------
def _optional(**fields: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({}, optional=fields)


RAW_MAPS = st.builds(
    lambda required, rest: {**required, **rest},
    st.fixed_dictionaries(
        {"platform": st.sampled_from(["title", "custom.Team"]), "tool": st.just("x")}
    ),
    _optional(
        direction=st.sampled_from(["outbound", "inbound", "bidirectional"]),
        template=st.sampled_from(["{title}", "a {{b}} c", "{x!r}", "{", "}", "{}", "{a[0]}", None]),
        value_map=st.none()
        | st.builds(
            lambda given: {"values": {"a": "b"}, **given},
            _optional(
                unmapped=st.sampled_from(["skip", "default", "refuse"]),
                default=st.sampled_from(["d", None]),
                reverse_default=st.sampled_from(["r", None]),
            ),
        ),
    ),
)


@settings(max_examples=500, deadline=None)
@given(raw=RAW_MAPS)
def test_the_schema_says_exactly_what_the_model_accepts(raw: dict[str, object]) -> None:
    """The JSON schema carries the model's own rules (a template writes to the tool only and
    is the only way of crossing, defaults where `unmapped: default` needs them, a template's
    syntax), so what a client builds from the OpenAPI document is never refused for them,
    and what the schema refuses the model refuses too."""
    by_schema = Draft202012Validator(FieldMap.model_json_schema()).is_valid(raw)
    try:
        FieldMap.model_validate(raw)
    except ValidationError:
        by_model = False
    else:
        by_model = True
    assert by_schema == by_model, raw


def test_every_regex_engine_reads_a_custom_field_name_alike() -> None:
    """The name's pattern is checked by Python (`is_custom_field`), by pydantic (Rust's regex)
    and by OpenAPI clients (ECMA's): a name one accepts and another refuses is a request the
    schema allows and the API refuses (a fuzzed `custom.\\x85…` once was). Every code point of
    the basic plane, first and later in the name, reads the same in all three."""
    import jsonschema_rs
    from pydantic import TypeAdapter

    from incident_sync.syncmodel.fieldmaps import CUSTOM_NAME, PlatformFieldName, is_custom_field

    rust = TypeAdapter(PlatformFieldName)
    ecma = jsonschema_rs.validator_for({"type": "string", "pattern": f"^{CUSTOM_NAME}$"})

    def accepted_by_rust(name: str) -> bool:
        try:
            rust.validate_python(name)
        except ValidationError:
            return False
        return True

    disagreements = []
    for point in range(0x10000):
        if 0xD800 <= point <= 0xDFFF:
            continue  # surrogates are no text to name a field with
        for name in (f"custom.{chr(point)}x", f"custom.x{chr(point)}"):
            verdicts = (is_custom_field(name), accepted_by_rust(name), ecma.is_valid(name))
            if len(set(verdicts)) > 1:
                disagreements.append((hex(point), name.index(chr(point)), verdicts))
    assert disagreements == []
    assert is_custom_field("custom.Team") and not is_custom_field("custom. Team")
    assert not is_custom_field("custom.\x85Team") and not is_custom_field("custom.\ufeffTeam")
