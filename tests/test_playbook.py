"""Playbooks are data: loading, validation with file and line, and the shipped set."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from remediator.actions import ACTIONS
from remediator.catalogue import Catalogue, load_catalogue
from remediator.cli import cli
from remediator.kinds import SHIPPED_PLAYBOOK_KINDS, ErrorKind
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
from remediator.report import Outcome
from tests.e2e.support import Rig, api_calls, healthy_state, writes
from tests.service.conftest import harness_for, post_failure, wait_for

SHIPPED = sorted(p for p in DEFAULT_DIR.glob("*.yaml") if not p.name.startswith("_"))
REPORT_SCHEMA = DEFAULT_DIR.parent / "docs" / "report.schema.json"
BASE = (DEFAULT_DIR / "series_not_manual.yaml").read_text(encoding="utf-8")

# docs/playbooks.md, walk-through 1: teach a shipped kind a new code and text, in YAML only.
LOGIN_LINES = "  codes: [2000310, 2000311, 2004054]\n"

# docs/playbooks.md, walk-through 2: a new error kind that needs no new action.
COST_CENTRE = """\
kind: series_needs_approval
title:
  sv: Verifikationsserien kräver attest
  en: The voucher series requires approval
recognise:
  codes: [2001950]
  messages:
    - 'verifikationsserien "?(?P<series>[a-zåäö0-9]{1,10})"? kräver attest'
auto_apply: false
actions:
  - action: financial_year
  - action: resend_voucher
texts:
  meaning:
    sv: Verifikationsserie {series} kräver attest, så Fortnox tar inte emot Z-rapporten utan attestant.
    en: Voucher series {series} requires approval, so Fortnox does not accept the Z-report without an approver.
  remedy:
    sv: Remediatorn ändrar inget i Fortnox. Den skickar Z-rapporten igen (om den inte redan är bokförd); det lyckas först när serien inte längre kräver attest.
    en: The remediator changes nothing in Fortnox. It sends the Z-report again (unless it is already booked); that succeeds only once the series no longer requires approval.
  manual:
    sv: ["Ta bort kravet på attest för serie {series} under Inställningar → Bokföring → Verifikationsserier i Fortnox och låt remediatorn skicka Z-rapporten igen."]
    en: ["Remove the approval requirement of series {series} under Inställningar → Bokföring → Verifikationsserier in Fortnox and let the remediator send the Z-report again."]
# plan: year lookup, voucher search (is the export already booked?); apply adds the voucher POST
budget: {plan: 2, apply: 3}
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
    kinds = [p.kind for p in playbooks]
    assert len(kinds) == len(set(kinds))
    # every ErrorKind constant but unrecognized has its file (contract 3); a file may add a kind
    assert set(kinds) >= SHIPPED_PLAYBOOK_KINDS
    assert {Path(p.source).stem for p in playbooks} == set(kinds)


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


def test_every_cause_that_can_clear_resends_and_explaining_ones_do_not() -> None:
    by_kind = {p.kind: [a.action for a in p.actions] for p in load_playbooks(DEFAULT_DIR)}
    for kind in (
        "series_not_manual",
        "account_inactive",
        "series_missing",
        "account_missing",
        "access_denied",
        "scope_missing",
        "license_missing",
        "period_locked",
        "financial_year_missing",
        "fortnox_unavailable",
    ):
        assert by_kind[kind][-1] == "resend_voucher", kind
    assert "resend_voucher" not in by_kind["chart_of_accounts_missing"]


def test_account_creation_is_never_automatic() -> None:
    playbook = next(p for p in load_playbooks(DEFAULT_DIR) if p.kind == ErrorKind.ACCOUNT_MISSING)
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


@pytest.mark.parametrize(
    "kind", ["Series_Not_Manual", "series-not-manual", "1st_kind", "ab", "a" * 65, "'kind x'"]
)
def test_a_kind_is_a_well_formed_id(tmp_path: Path, kind: str) -> None:
    message = refusal(tmp_path, BASE.replace("kind: series_not_manual", f"kind: {kind}"))
    assert message.startswith("1: kind: '"), message
    assert "is not a valid kind id: lower case letters, digits and _, a letter first" in message


def test_a_kind_must_be_text(tmp_path: Path) -> None:
    message = refusal(tmp_path, BASE.replace("kind: series_not_manual", "kind: [a]"))
    assert message.startswith("1: kind: Input should be a valid string"), message


@pytest.mark.parametrize("kind", ["abc", "series_needs_approval", "x" * 64, "series_not_manul"])
def test_any_well_formed_kind_is_accepted(tmp_path: Path, kind: str) -> None:
    text = BASE.replace("kind: series_not_manual", f"kind: {kind}")
    assert load_playbook(write(tmp_path, "p.yaml", text), ACTIONS).kind == kind


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
    """A known kind learns a code ("Kan inte logga in…", 2004054) by a YAML edit alone."""
    directory = shipped_copy(tmp_path)
    path = directory / "connection_invalidated.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  codes: [2000310, 2000311]\n"
    assert old in text
    path.write_text(text.replace(old, LOGIN_LINES), encoding="utf-8")
    catalogue = Catalogue(load_playbooks(directory))
    for message, code in (("Fel vid export", 2004054), ("", 2004054)):
        match = catalogue.classify(message, code=code)
        assert (match.kind, match.matched_by) == (ErrorKind.CONNECTION_INVALIDATED, "code")
    # every shipped playbook beside it still loads and still recognises its texts
    assert len(catalogue.playbooks()) == len(SHIPPED)
    assert (
        catalogue.classify("Kopplingen har invaliderats av Fortnox").kind
        == ErrorKind.CONNECTION_INVALIDATED
    )
    # the shipped catalogue does not know the new text
    assert load_catalogue().classify("Fel vid export", code=2004054).kind == ErrorKind.UNRECOGNIZED


@pytest.fixture
def with_new_kind(tmp_path: Path) -> Path:
    """The shipped playbooks and, beside them, walk-through 2's file: nothing else changes."""
    directory = shipped_copy(tmp_path)
    write(directory, "series_needs_approval.yaml", COST_CENTRE)
    return directory


def test_walkthrough_2_a_new_kind_is_one_yaml_file(with_new_kind: Path) -> None:
    """A kind the code has never heard of loads, and is recognised by code and by message."""
    assert "series_needs_approval" not in set(ErrorKind)
    catalogue = Catalogue(load_playbooks(with_new_kind))
    playbook = catalogue.playbook("series_needs_approval")
    assert playbook is not None
    assert playbook.kind == "series_needs_approval"
    assert [spec.action for spec in playbook.actions] == ["financial_year", "resend_voucher"]
    assert len(catalogue.playbooks()) == len(SHIPPED) + 1

    by_code = catalogue.classify("Fel vid export", code=2001950)
    assert (by_code.kind, by_code.matched_by, by_code.playbook) == (
        "series_needs_approval",
        "code",
        "series_needs_approval",
    )
    by_message = catalogue.classify("Fel vid export: Verifikationsserien F kräver attest.")
    assert (by_message.kind, by_message.matched_by, by_message.params) == (
        "series_needs_approval",
        "message",
        {"series": "F"},
    )
    # the shipped kinds beside it are recognised as before
    assert catalogue.classify('Konto "3001" är inte aktivt').kind == ErrorKind.ACCOUNT_INACTIVE
    assert catalogue.classify("Kopplingen har invaliderats").kind == "connection_invalidated"
    # and the shipped catalogue alone does not know the new kind
    assert load_catalogue().classify("Verifikationsserien F kräver attest").kind == "unrecognized"


def test_walkthrough_2_a_new_kind_cannot_replace_a_shipped_one(tmp_path: Path) -> None:
    """A new file is an addition: every shipped kind still needs its playbook, and a kind may
    be declared once. A misspelt kind in a shipped file is therefore caught at load."""
    directory = shipped_copy(tmp_path)
    path = directory / "period_locked.yaml"
    path.write_text(path.read_text().replace("kind: period_locked", "kind: period_lockd"))
    with pytest.raises(PlaybookError, match="no playbook for: period_locked"):
        load_playbooks(directory)
    directory = shipped_copy(tmp_path / "again")
    write(directory, "series_needs_approval.yaml", COST_CENTRE)
    write(
        directory,
        "zz_series_needs_approval.yaml",
        COST_CENTRE.replace("codes: [2001950]", "codes: []"),
    )
    with pytest.raises(PlaybookError, match="kind series_needs_approval is also in"):
        load_playbooks(directory)


def test_walkthrough_2_the_cli_explains_lists_and_shows_the_new_kind(
    with_new_kind: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATOR_PLAYBOOKS_DIR", str(with_new_kind))
    runner = CliRunner()

    result = runner.invoke(cli, ["explain", "Verifikationsserien F kräver attest", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["kind"], data["params"], data["matched_by"], data["playbook"]) == (
        "series_needs_approval",
        {"series": "F"},
        "message",
        "series_needs_approval",
    )
    assert data["explanation"]["sv"] == (
        "Verifikationsserie F kräver attest, så Fortnox tar inte emot Z-rapporten utan attestant."
    )
    assert "Inställningar → Bokföring → Verifikationsserier" in data["manual_steps"]["en"][0]
    by_code = runner.invoke(cli, ["explain", "Fel vid export", "--code", "2001950"])
    assert by_code.exit_code == 0, by_code.output
    assert by_code.stdout.startswith("series_needs_approval  (code)")

    listed = runner.invoke(cli, ["playbooks", "list"])
    assert listed.exit_code == 0, listed.output
    assert "series_needs_approval" in [line.split()[0] for line in listed.stdout.splitlines()]
    shown = runner.invoke(cli, ["playbooks", "show", "series_needs_approval", "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(
        f"series_needs_approval  ({with_new_kind / 'series_needs_approval.yaml'})"
    )
    assert "    codes: 2001950" in shown.stdout


async def test_walkthrough_2_a_run_reports_the_new_kind(
    with_new_kind: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the engine on the sandbox: the report carries the new id and is valid under
    the published schema (docs/report.schema.json); the run store keeps the id."""
    monkeypatch.setenv("REMEDIATOR_PLAYBOOKS_DIR", str(with_new_kind))
    workdir = tmp_path / "rig"
    workdir.mkdir()
    rig = Rig.open(healthy_state(), workdir)
    try:
        error = {"message": "Fel vid export: Verifikationsserien F kräver attest", "code": 2001950}
        failure = rig.failure(error, rig.voucher_body())
        plan, during_plan = await rig.run(failure, "plan")
        fix, during_fix = await rig.run(failure, "apply", reviewed=True)
        stored = [rig.runtime.runs.get(report.run_id).kind for report in (plan, fix)]
    finally:
        await rig.close()

    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    budget = {"plan": 2, "apply": 3}
    for report, requests in ((plan, during_plan), (fix, during_fix)):
        assert report.kind == "series_needs_approval"
        assert report.recognition.model_dump() == {
            "kind": "series_needs_approval",
            "matched_by": "code",
            "params": {"series": "F"},
            "playbook": "series_needs_approval",
        }
        data = json.loads(report.model_dump_json())
        jsonschema.validate(data, schema)
        assert data["recognition"]["kind"] == "series_needs_approval"
        assert len(api_calls(requests)) <= budget[report.mode]
    assert stored == ["series_needs_approval", "series_needs_approval"]
    assert (plan.outcome, writes(during_plan)) == (Outcome.WOULD_FIX, [])
    assert plan.explanation.sv.startswith("Verifikationsserie F kräver attest")
    # The sandbox knows no approval requirement, so the re-sent Z-report is accepted, as
    # Fortnox accepts it once the requirement is removed.
    assert (fix.outcome, fix.resent) == (Outcome.FIXED, True)
    assert writes(during_fix) == [("POST", "/3/vouchers")]
    # the schema checks the id's form, not a list: a malformed id is refused
    broken = json.loads(fix.model_dump_json())
    broken["recognition"]["kind"] = "Series Approval"
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.validate(broken, schema)


def test_walkthrough_2_the_service_queues_and_counts_the_new_kind(
    with_new_kind: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service stores the run under the new id, waits for a review (``auto_apply: false``)
    and counts the failure by kind in its metrics."""
    monkeypatch.setenv("REMEDIATOR_PLAYBOOKS_DIR", str(with_new_kind))
    service_dir = tmp_path / "service"
    service_dir.mkdir()
    harness = harness_for("healthy", service_dir)
    with harness.client() as client:
        harness.connect(client)
        body = harness.failure(message="Fel vid export: Verifikationsserien F kräver attest")
        run_id = post_failure(client, body).json()["run_id"]
        run = wait_for(client, run_id)
        metrics = client.get("/metrics").text
    assert (run["kind"], run["state"]) == ("series_needs_approval", "awaiting_review")
    assert (
        'remediator_failures_received_total{kind="series_needs_approval"} 1' in metrics.splitlines()
    )


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
    shipped = {p.kind: (p.budget.plan, p.budget.apply) for p in load_playbooks(DEFAULT_DIR)}
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
