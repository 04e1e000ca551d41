"""Playbooks are data: one YAML file per error kind, validated at load with file and line.

See docs/playbooks.md for the format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from string import Formatter
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from remediator.actions import ACTIONS
from remediator.errors import UsageError
from remediator.kinds import SHIPPED_PLAYBOOK_KINDS, ErrorKind, Kind

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "playbooks"
# libyaml's loader where PyYAML was built with it (its wheels are): every service, CLI command
# and test runtime loads the playbooks, and the pure-Python parser took 0.2 s of it here.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Instructions several playbooks share; not a playbook (files named "_*.yaml" are not).
SHARED_FILE = "_shared.yaml"
COMMON_PLACEHOLDERS = frozenset(
    {"series", "date", "year", "restaurant", "reconnect_url", "locked_until", "account", "user"}
)
# Values actions give the instructions they pick (``texts.cases``), besides the common ones.
ACTION_PLACEHOLDERS = frozenset({"cost_centre", "rows", "difference", "shared"})
# The case whose instructions a check ahead's run gives instead of ``manual`` (there is no day
# to export again: the export is still to come). See docs/ahead.md.
AHEAD_CASE = "ahead"


class PlaybookError(UsageError):
    """A playbook file that cannot be used: the message names the file, line and problem."""


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders in ``text``; a malformed one is a ``ValueError``."""
    try:
        return {name for _, name, _, _ in Formatter().parse(text) if name}
    except ValueError as err:
        raise ValueError(f"malformed placeholder in {text!r}: {err}") from None


def _well_formed(value: Any) -> Any:
    for text in value if isinstance(value, list) else [value]:
        placeholders(text)
    return value


class Bilingual(Spec):
    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    _placeholders = field_validator("sv", "en")(_well_formed)


class BilingualList(Spec):
    sv: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)

    _placeholders = field_validator("sv", "en")(_well_formed)


class Recognise(Spec):
    codes: list[int] = Field(default_factory=list)
    fallback_codes: list[int] = Field(default_factory=list)
    http_statuses: list[int] = Field(default_factory=list)
    oauth_errors: list[str] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)

    @field_validator("messages")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern {pattern!r} is not a valid regex: {err}") from None
        return patterns

    def groups(self) -> set[str]:
        """The parameters the patterns extract (``series2`` counts as ``series``)."""
        return {
            name.rstrip("0123456789")
            for pattern in self.messages
            for name in re.compile(pattern).groupindex
        }


class ActionSpec(Spec):
    action: str
    with_: dict[str, str] = Field(default_factory=dict, alias="with")

    @field_validator("with_")
    @classmethod
    def _placeholders(cls, value: dict[str, str]) -> dict[str, str]:
        return {key: _well_formed(text) for key, text in value.items()}


class Texts(Spec):
    meaning: Bilingual
    remedy: Bilingual
    manual: BilingualList = Field(default_factory=BilingualList)
    # Instructions for one situation an action finds (an inactive cost centre, an account that
    # requires one), picked by the action by name; ``manual`` when it picks none.
    cases: dict[str, BilingualList] = Field(default_factory=dict)

    def instructions(self, case: str | None, *, ahead: bool = False) -> BilingualList:
        """The instructions for ``case``; with none named, those for a check ahead's run
        (case ``ahead``, when the playbook has it), else ``manual``."""
        name = case or (AHEAD_CASE if ahead else "")
        return self.cases.get(name, self.manual)


class Budget(Spec):
    """The most Fortnox API requests (token calls apart) a run of this playbook may make."""

    plan: int = Field(ge=0)
    apply: int = Field(ge=0)


class Playbook(Spec):
    kind: Kind
    title: Bilingual
    recognise: Recognise = Field(default_factory=Recognise)
    auto_apply: bool = False
    actions: list[ActionSpec] = Field(default_factory=list)
    texts: Texts
    budget: Budget
    source: str = Field(default="", exclude=True)

    def placeholders_used(self) -> set[str]:
        texts: list[str] = [
            self.texts.meaning.sv,
            self.texts.meaning.en,
            self.texts.remedy.sv,
            self.texts.remedy.en,
            *self.texts.manual.sv,
            *self.texts.manual.en,
        ]
        texts += [line for case in self.texts.cases.values() for line in (*case.sv, *case.en)]
        texts += [value for spec in self.actions for value in spec.with_.values()]
        return {name for text in texts for name in placeholders(text)}


def _node_at(node: yaml.Node, loc: Iterable[Any]) -> yaml.Node:
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not match:
                return node
            node = match[0]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            return node
    return node


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _first_scalar(node: yaml.Node, needle: str) -> yaml.Node | None:
    """The first scalar (in file order) whose text contains ``needle``."""
    if isinstance(node, yaml.ScalarNode):
        return node if needle in str(node.value) else None
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [value for _, value in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    return next((found for c in children if (found := _first_scalar(c, needle))), None)


def _problem(path: Path, root: yaml.Node, error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["loc"] == ("kind",) and error["type"] == "string_pattern_mismatch":
        message = (
            f"{error['input']!r} is not a valid kind id: lower case letters, digits and _, "
            "a letter first, 3 to 64 characters (see docs/playbooks.md)"
        )
    return f"{path}:{_line(_node_at(root, error['loc']))}: {where}: {message}"


def load_playbook(path: Path, actions: Iterable[str]) -> Playbook:
    """One playbook file, validated; errors name the file, the line and what is wrong."""
    text = path.read_text(encoding="utf-8")
    data = _parsed(path, text)
    if not isinstance(data, dict):
        raise PlaybookError(f"{path}:1: a playbook must be a mapping")
    try:
        playbook = Playbook.model_validate(data).model_copy(update={"source": str(path)})
    except ValidationError as err:
        root = _nodes(text)
        raise PlaybookError("\n".join(_problem(path, root, e) for e in err.errors())) from None
    _check_semantics(path, text, playbook, set(actions))
    return playbook


def _parsed(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (libyaml's)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PlaybookError(f"{path}:{line}: not valid YAML ({err})") from None


def _nodes(text: str) -> yaml.Node:
    """The file's node tree, whose marks give the lines errors name: composed only for an
    error, the text having parsed already."""
    root = yaml.compose(text, Loader=_LOADER)
    assert root is not None  # noqa: S101 - it parsed as a mapping
    return root


def _check_semantics(path: Path, text: str, playbook: Playbook, actions: set[str]) -> None:
    for index, spec in enumerate(playbook.actions):
        if spec.action not in actions:
            line = _line(_node_at(_nodes(text), ["actions", index, "action"]))
            raise PlaybookError(
                f"{path}:{line}: unknown action {spec.action!r} "
                f"(known: {', '.join(sorted(actions))})"
            )
    if playbook.kind == ErrorKind.UNRECOGNIZED:
        raise PlaybookError(
            f"{path}:{_line(_node_at(_nodes(text), ['kind']))}: "
            "kind: unrecognized cannot have a playbook"
        )
    known = COMMON_PLACEHOLDERS | ACTION_PLACEHOLDERS | playbook.recognise.groups()
    unknown = sorted(playbook.placeholders_used() - known)
    if unknown:
        name = unknown[0]
        root = _nodes(text)
        node = _first_scalar(root, "{" + name + "}") or _first_scalar(root, "{" + name) or root
        raise PlaybookError(
            f"{path}:{_line(node)}: unknown placeholder(s) "
            f"{', '.join('{' + name + '}' for name in unknown)}; known: "
            f"{', '.join('{' + name + '}' for name in sorted(known))}"
        )


def playbooks_dir() -> Path:
    named = os.environ.get("REMEDIATOR_PLAYBOOKS_DIR")
    return Path(named) if named else DEFAULT_DIR


def load_playbooks(
    directory: Path | None = None, actions: Iterable[str] | None = None
) -> list[Playbook]:
    """Every playbook in ``directory``: one per kind, each decisive code in one playbook."""
    directory = directory or playbooks_dir()
    names = set(actions if actions is not None else ACTIONS)
    files = sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))
    if not files:
        raise PlaybookError(f"{directory}: no playbook files (*.yaml)")
    playbooks = [load_playbook(path, names) for path in files]
    _check_catalogue(playbooks)
    return playbooks


class Shared(Spec):
    """Instructions for people that several playbooks share (``_shared.yaml``): cases an
    action names, as in a playbook's ``texts.cases``; a playbook's own case of that name wins."""

    cases: dict[str, BilingualList] = Field(default_factory=dict)


def load_shared(directory: Path | None = None) -> Shared:
    """The shared instructions of ``directory``, or the shipped ones when it has none."""
    path = (directory or playbooks_dir()) / SHARED_FILE
    if not path.exists():
        path = DEFAULT_DIR / SHARED_FILE
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - safe
        shared = Shared.model_validate(data)
    except (yaml.YAMLError, ValidationError) as err:
        raise PlaybookError(f"{path}: not valid shared instructions ({err})") from None
    used = {
        name
        for case in shared.cases.values()
        for line in (*case.sv, *case.en)
        for name in placeholders(line)
    }
    unknown = sorted(used - COMMON_PLACEHOLDERS - ACTION_PLACEHOLDERS)
    if unknown:
        raise PlaybookError(f"{path}: unknown placeholder(s) {', '.join(unknown)}")
    return shared


def _check_catalogue(playbooks: list[Playbook]) -> None:
    seen: dict[Kind, str] = {}
    codes: dict[int, str] = {}
    for playbook in playbooks:
        if playbook.kind in seen:
            raise PlaybookError(
                f"{playbook.source}: kind {playbook.kind} is also in {seen[playbook.kind]}"
            )
        seen[playbook.kind] = playbook.source
        for code in playbook.recognise.codes:
            if code in codes:
                raise PlaybookError(
                    f"{playbook.source}: code {code} is also decisive in {codes[code]}"
                )
            codes[code] = playbook.source
    missing = SHIPPED_PLAYBOOK_KINDS - set(seen)
    if missing:
        raise PlaybookError(f"no playbook for: {', '.join(sorted(missing))}")
