"""Playbooks are data: loading, validation with file and line, and the shipped set."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from remediator.actions import ACTIONS
from remediator.catalogue import Catalogue, load_catalogue
from remediator.kinds import ErrorKind
from remediator.playbook import (
    COMMON_PLACEHOLDERS,
    DEFAULT_DIR,
    Playbook,
    PlaybookError,
    load_playbook,
    load_playbooks,
    placeholders,
    playbooks_dir,
)

SHIPPED = sorted(DEFAULT_DIR.glob("*.yaml"))
BASE = (DEFAULT_DIR / "series_not_manual.yaml").read_text(encoding="utf-8")

# docs/playbooks.md, walk-through 1: teach a shipped kind a new code and text, in YAML only.
LOGIN_LINES = """\
  codes: [2000310, 2000311]
  oauth_errors: [invalid_grant]
  messages:
    - 'ogiltig inloggning'
    - 'kan inte logga in'
"""

# docs/playbooks.md, walk-through 2: a new error kind that needs no new action.
COST_CENTRE = """\
kind: cost_centre_required
title:
  sv: Kontot kräver ett kostnadsställe
  en: The account requires a cost centre
recognise:
  codes: [2000946]
  messages:
    - 'kontot? "?(?P<account>\\d{4})"? kräver (?:ett )?kostnadsställe'
auto_apply: false
actions:
  - action: financial_year
texts:
  meaning:
    sv: Konto {account} kräver ett kostnadsställe, men Z-rapporten har inget.
    en: Account {account} requires a cost centre, but the Z-report has none.
  remedy:
    sv: Remediatorn ändrar inget; kostnadsstället ställs in i Backoffice.
    en: The remediator changes nothing; the cost centre is set in the Backoffice.
  manual:
    sv: ["Ange kostnadsställe för konto {account} i Backofficens Fortnox-inställningar, eller ta bort kravet under Inställningar → Bokföring → Kontoplan i Fortnox."]
    en: ["Set a cost centre for account {account} in the Backoffice's Fortnox settings, or remove the requirement under Inställningar → Bokföring → Kontoplan in Fortnox."]
budget: {plan: 1, apply: 1}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def refusal(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path, ACTIONS)
    message = str(caught.value)
    assert message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}:")


# --- the shipped playbooks -------------------------------------------------------------------


def test_one_shipped_playbook_per_kind() -> None:
    playbooks = load_playbooks(DEFAULT_DIR)
    assert sorted(p.kind.value for p in playbooks) == sorted(
        k.value for k in ErrorKind if k is not ErrorKind.UNRECOGNIZED
    )
    assert {Path(p.source).stem for p in playbooks} == {p.kind.value for p in playbooks}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_playbook_is_complete(path: Path) -> None:
    playbook = load_playbook(path, ACTIONS)
    assert playbook.recognise.codes or playbook.recognise.messages
    assert playbook.actions, "every playbook at least reads something"
    assert playbook.texts.manual.sv, "texts say what a person does when it cannot be fixed"
    assert len(playbook.texts.manual.sv) == len(playbook.texts.manual.en)
    assert playbook.budget.plan <= playbook.budget.apply
    for spec in playbook.actions:
        assert spec.action in ACTIONS
    for pattern in playbook.recognise.messages:
        letters = re.sub(r"\(\?P<|\\[A-Za-z]", "", pattern)
        assert letters == letters.lower(), "messages are matched against lower-cased text"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_account_and_series_actions_resolve_the_year_first(path: Path) -> None:
    names = [spec.action for spec in load_playbook(path, ACTIONS).actions]
    needs_year = {"series_exists", "series_manual", "account_active", "account_exists"}
    needs_year |= {"chart_review", "resend_voucher"}
    for index, name in enumerate(names):
        if name in needs_year:
            assert "financial_year" in names[:index], f"{name} runs before financial_year"


def test_fixing_playbooks_resend_and_diagnosing_ones_do_not() -> None:
    by_kind = {p.kind: [a.action for a in p.actions] for p in load_playbooks(DEFAULT_DIR)}
    for kind in ("series_not_manual", "account_inactive", "series_missing", "account_missing"):
        assert by_kind[ErrorKind(kind)][-1] == "resend_voucher"
    for kind in ("access_denied", "scope_missing", "license_missing", "period_locked"):
        assert "resend_voucher" not in by_kind[ErrorKind(kind)]


def test_account_creation_is_never_automatic() -> None:
    playbook = next(p for p in load_playbooks(DEFAULT_DIR) if p.kind is ErrorKind.ACCOUNT_MISSING)
    assert playbook.auto_apply is False


def test_menu_paths_are_given_for_clicks_in_fortnox() -> None:
    by_kind = {p.kind: p for p in load_playbooks(DEFAULT_DIR)}
    manual = by_kind[ErrorKind.SERIES_NOT_MANUAL].texts.manual
    assert "Inställningar → Bokföring → Verifikationsserier" in manual.sv[0]
    assert "Manuell kontering" in manual.sv[0]
    assert "räkenskapsåret" in manual.sv[0]
    assert (
        "Inställningar → Bokföring → Kontoplan"
        in by_kind[ErrorKind.ACCOUNT_INACTIVE].texts.manual.sv[0]
    )


# --- validation: file, line, what is wrong ---------------------------------------------------


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    text = BASE.replace("auto_apply: true", "auto_apply: [true")
    message = refusal(tmp_path, text)
    assert re.match(r"\d+: not valid YAML", message)
    assert int(message.split(":")[0]) in (line_of(text, "auto_apply"), line_of(text, "actions:"))


def test_a_tab_is_not_yaml(tmp_path: Path) -> None:
    message = refusal(tmp_path, BASE.replace("title:\n  sv:", "title:\n\tsv:"))
    assert message.startswith("3: not valid YAML")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    assert refusal(tmp_path, text) == "1: a playbook must be a mapping"


def test_unknown_action(tmp_path: Path) -> None:
    text = BASE.replace("action: series_manual", "action: series_manuel")
    message = refusal(tmp_path, text)
    assert message.startswith(f"{line_of(text, 'series_manuel')}: unknown action 'series_manuel'")
    assert "series_manual" in message  # the known actions are listed


def test_unknown_placeholder_points_at_the_text(tmp_path: Path) -> None:
    text = BASE.replace("öppna serie {series} och", "öppna serie {serie} och")
    message = refusal(tmp_path, text)
    assert message.startswith(f"{line_of(text, '{serie}')}: unknown placeholder(s) {{serie}}")
    assert "{series}" in message
    assert "{series2}" not in message  # numbered groups are aliases of series, not placeholders


def test_unknown_placeholder_in_action_parameters(tmp_path: Path) -> None:
    text = BASE.replace('with: {series: "{series}"}', 'with: {series: "{code}"}')
    assert refusal(tmp_path, text).startswith(f"{line_of(text, '{code}')}: unknown placeholder")


def test_numbered_group_is_not_a_placeholder(tmp_path: Path) -> None:
    text = BASE.replace("Serie {series} är inte", "Serie {series2} är inte")
    assert "unknown placeholder(s) {series2}" in refusal(tmp_path, text)


def test_malformed_placeholder(tmp_path: Path) -> None:
    text = BASE.replace("öppna serie {series} och", "öppna serie {series och")
    message = refusal(tmp_path, text)
    assert message.startswith(
        f"{line_of(text, '{series och')}: texts.manual.sv: malformed placeholder"
    )


def test_group_extracted_by_a_pattern_is_a_placeholder(tmp_path: Path) -> None:
    text = BASE.replace("(?P<series>", "(?P<code>").replace("Serie {series} är", "Serie {code} är")
    assert "{code}" in load_playbook(write(tmp_path, "p.yaml", text), ACTIONS).texts.meaning.sv


def test_unknown_kind(tmp_path: Path) -> None:
    message = refusal(tmp_path, BASE.replace("kind: series_not_manual", "kind: series_not_manul"))
    assert message.startswith("1: kind: 'series_not_manul' is not a known error kind")


def test_unrecognized_cannot_have_a_playbook(tmp_path: Path) -> None:
    message = refusal(tmp_path, BASE.replace("kind: series_not_manual", "kind: unrecognized"))
    assert message == "1: kind: unrecognized cannot have a playbook"


def test_invalid_regex(tmp_path: Path) -> None:
    text = BASE.replace("'the (?:verification", "'the ((?:verification")
    message = refusal(tmp_path, text)
    assert re.match(r"\d+: recognise\.messages: pattern .* is not a valid regex", message)


def test_every_schema_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    text = BASE.replace("auto_apply: true", "auto_apply: maybe").replace(
        "budget: {plan: 3, apply: 5}", "budget: {plan: -1, apply: 5}"
    )
    message = refusal(tmp_path, text)
    lines = message.split("\n")
    assert lines[0].startswith(
        f"{line_of(text, 'auto_apply')}: auto_apply: Input should be a valid boolean"
    )
    assert lines[1].endswith(
        f"{line_of(text, 'budget')}: budget.plan: Input should be greater than or equal to 0"
    )


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("  en: The voucher series is not open for manual entry\n", "", "title.en: Field required"),
        (
            "auto_apply: true",
            "auto_apply: true\nauto_aply: false",
            "auto_aply: Extra inputs are not permitted",
        ),
        ("codes: [2001940]", "codes: [abc]", "recognise.codes.0: Input should be a valid integer"),
        ("budget: {plan: 3, apply: 5}", "budget: {plan: 3}", "budget.apply: Field required"),
        (
            '    with: {series: "{series}"}\n',
            "    with: [series]\n",
            "actions.1.with: Input should be a valid dictionary",
        ),
    ],
)
def test_schema_problems(tmp_path: Path, old: str, new: str, where: str) -> None:
    assert old in BASE
    assert where in refusal(tmp_path, BASE.replace(old, new))


def test_texts_are_required(tmp_path: Path) -> None:
    text = BASE.split("texts:")[0] + "budget: {plan: 3, apply: 5}\n"
    assert refusal(tmp_path, text) == "1: texts: Field required"


# --- the catalogue of a directory ------------------------------------------------------------


def shipped_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIR, directory)
    return directory


def test_duplicate_kinds_are_refused(tmp_path: Path) -> None:
    directory = shipped_copy(tmp_path)
    write(directory, "zz_again.yaml", BASE.replace("codes: [2001940]", "codes: []"))
    with pytest.raises(
        PlaybookError,
        match=r"zz_again\.yaml: kind series_not_manual is also in .*series_not_manual\.yaml",
    ):
        load_playbooks(directory)


def test_a_decisive_code_belongs_to_one_playbook(tmp_path: Path) -> None:
    directory = shipped_copy(tmp_path)
    path = directory / "series_missing.yaml"
    path.write_text(path.read_text().replace("codes: [2001939]", "codes: [2001939, 2001940]"))
    with pytest.raises(PlaybookError, match="code 2001940 is also decisive in"):
        load_playbooks(directory)


def test_a_missing_kind_is_refused(tmp_path: Path) -> None:
    directory = shipped_copy(tmp_path)
    (directory / "period_locked.yaml").unlink()
    with pytest.raises(PlaybookError, match="no playbook for: period_locked"):
        load_playbooks(directory)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="no playbook files"):
        load_playbooks(tmp_path)


def test_a_broken_file_stops_the_whole_catalogue(tmp_path: Path) -> None:
    directory = shipped_copy(tmp_path)
    write(directory, "account_inactive.yaml", "kind: [")
    with pytest.raises(PlaybookError, match=r"account_inactive\.yaml:\d+: not valid YAML"):
        load_playbooks(directory)


def test_playbooks_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert playbooks_dir() == DEFAULT_DIR
    monkeypatch.setenv("REMEDIATOR_PLAYBOOKS_DIR", str(tmp_path))
    assert playbooks_dir() == tmp_path


def test_walkthrough_1_a_new_code_and_text_for_a_shipped_kind(tmp_path: Path) -> None:
    """A known kind learns "Ogiltig inloggning" (2000310/2000311) by a YAML edit alone."""
    directory = shipped_copy(tmp_path)
    path = directory / "connection_invalidated.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  oauth_errors: [invalid_grant]\n  messages:\n"
    assert old in text
    path.write_text(text.replace(old, LOGIN_LINES), encoding="utf-8")
    catalogue = Catalogue(load_playbooks(directory))
    for message, code in (("Fel vid export: Ogiltig inloggning", None), ("", 2000311)):
        match = catalogue.classify(message, code=code)
        assert match.kind is ErrorKind.CONNECTION_INVALIDATED
    # every shipped playbook beside it still loads and still recognises its texts
    assert len(catalogue.playbooks()) == len(SHIPPED)
    assert (
        catalogue.classify("Kopplingen har invaliderats av Fortnox").kind
        is ErrorKind.CONNECTION_INVALIDATED
    )
    # the shipped catalogue does not know the new text
    assert load_catalogue().classify("Ogiltig inloggning").kind is ErrorKind.UNRECOGNIZED


def test_walkthrough_2_a_new_kind_needs_its_id_in_kinds_py(tmp_path: Path) -> None:
    """A new kind's YAML file is valid in every other respect, but kinds are the closed list of
    contract 3 (they are enumerated in the report's JSON Schema), so the file is refused with a
    message that says where the id must be added."""
    directory = shipped_copy(tmp_path)
    path = write(directory, "cost_centre_required.yaml", COST_CENTRE)
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(directory)
    assert str(caught.value) == (
        f"{path}:1: kind: 'cost_centre_required' is not a known error kind; the kinds are the "
        "stable ids in remediator/kinds.py (see docs/playbooks.md)"
    )
    # with the id added (as the walk-through says), the very same file loads
    text = COST_CENTRE.replace("kind: cost_centre_required", "kind: account_inactive")
    playbook = load_playbook(write(tmp_path, "as_known_kind.yaml", text), ACTIONS)
    assert playbook.recognise.groups() == {"account"}
    assert playbook.placeholders_used() == {"account"}


def test_the_docs_examples_are_the_ones_tested() -> None:
    docs = (DEFAULT_DIR.parent / "docs" / "playbooks.md").read_text(encoding="utf-8")
    assert LOGIN_LINES in docs
    assert COST_CENTRE in docs


def test_the_docs_budget_table_matches_the_files() -> None:
    docs = (DEFAULT_DIR.parent / "docs" / "playbooks.md").read_text(encoding="utf-8")
    table = docs.split("## Request budgets per shipped playbook")[1].split("\n## ")[0]
    documented: dict[str, tuple[int, int]] = {}
    for row in re.findall(r"^\| (`.+?) \| (\d+) \| (\d+) \|", table, flags=re.MULTILINE):
        for kind in re.findall(r"`(\w+)`", row[0]):
            documented[kind] = (int(row[1]), int(row[2]))
    shipped = {p.kind.value: (p.budget.plan, p.budget.apply) for p in load_playbooks(DEFAULT_DIR)}
    assert documented == shipped


# --- helpers --------------------------------------------------------------------------------


def test_placeholders() -> None:
    assert placeholders("Serie {series} i {date}; {{literal}}") == {"series", "date"}
    with pytest.raises(ValueError, match="malformed placeholder"):
        placeholders("{series")


def test_placeholders_used_covers_texts_and_parameters() -> None:
    playbook = load_playbook(DEFAULT_DIR / "series_missing.yaml", ACTIONS)
    assert isinstance(playbook, Playbook)
    assert playbook.placeholders_used() == {"series", "date"}
    assert playbook.placeholders_used() <= COMMON_PLACEHOLDERS
