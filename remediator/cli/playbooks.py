"""``remediator playbooks``: the error kinds the remediator knows and what it does for each."""

from __future__ import annotations

import click

from remediator.catalogue import load_catalogue
from remediator.cli.output import echo_json, json_option, lang_option
from remediator.errors import UsageError
from remediator.kinds import is_kind
from remediator.playbook import Playbook
from remediator.render import Lang


@click.group()
def playbooks() -> None:
    """List and show playbooks."""


@playbooks.command("list")
@json_option
@lang_option
def list_(as_json: bool, lang: Lang) -> None:
    """Every playbook: kind, whether the service may apply it unreviewed, and its title."""
    found = load_catalogue().playbooks()
    if as_json:
        echo_json(
            [
                {
                    "kind": p.kind,
                    "auto_apply": p.auto_apply,
                    "title": p.title.model_dump(),
                    "actions": [a.action for a in p.actions],
                    "budget": p.budget.model_dump(),
                    "file": p.source,
                }
                for p in found
            ]
        )
        return
    for p in found:
        mode = "auto" if p.auto_apply else "review"
        click.echo(f"{p.kind:28s} {mode:6s} {p.title.sv if lang == 'sv' else p.title.en}")


@playbooks.command("show")
@click.argument("kind")
@json_option
@lang_option
def show(kind: str, as_json: bool, lang: Lang) -> None:
    """One playbook in full."""
    if not is_kind(kind):
        raise UsageError(f"{kind!r} is not a kind id; see: remediator playbooks list")
    playbook = load_catalogue().playbook(kind)
    if playbook is None:
        raise UsageError(f"no playbook for {kind!r}; see: remediator playbooks list")
    if as_json:
        echo_json(playbook.model_dump(mode="json", by_alias=True) | {"file": playbook.source})
        return
    click.echo(f"{playbook.kind}  ({playbook.source})")
    click.echo(f"  {playbook.title.sv} / {playbook.title.en}")
    click.echo(
        f"  auto_apply: {playbook.auto_apply}; budget: plan {playbook.budget.plan}, "
        f"apply {playbook.budget.apply} requests"
    )
    _recognise(playbook)
    click.echo("  actions:")
    for spec in playbook.actions:
        args = ", ".join(f"{k}={v}" for k, v in spec.with_.items())
        click.echo(f"    - {spec.action}{f' ({args})' if args else ''}")
    texts = playbook.texts
    click.echo(f"  meaning: {getattr(texts.meaning, lang)}")
    click.echo(f"  remedy: {getattr(texts.remedy, lang)}")
    for number, line in enumerate(getattr(texts.manual, lang), 1):
        click.echo(f"  manual {number}. {line}")


def _recognise(playbook: Playbook) -> None:
    recognise = playbook.recognise
    click.echo("  recognise:")
    for label, values in (
        ("codes", recognise.codes),
        ("fallback codes", recognise.fallback_codes),
        ("oauth errors", recognise.oauth_errors),
        ("http statuses", recognise.http_statuses),
    ):
        if values:
            click.echo(f"    {label}: {', '.join(str(v) for v in values)}")
    for pattern in recognise.messages:
        click.echo(f"    message: {pattern}")
