"""Policy: auto, review and never, per kind of change."""

from __future__ import annotations

import pytest

from remediator.policy import Change, Policy, Rule


@pytest.mark.parametrize(
    ("rule", "reviewed", "allowed"),
    [
        (Rule.AUTO, False, True),
        (Rule.AUTO, True, True),
        (Rule.REVIEW, False, False),
        (Rule.REVIEW, True, True),
        (Rule.NEVER, False, False),
        (Rule.NEVER, True, False),
    ],
)
def test_rules(rule: Rule, reviewed: bool, allowed: bool) -> None:
    policy = Policy.model_validate({"activate_account": rule.value})
    assert policy.allows(Change.ACTIVATE_ACCOUNT, reviewed=reviewed) is allowed
    assert policy.explain(Change.ACTIVATE_ACCOUNT) == f"policy activate_account={rule.value}"


def test_defaults_create_accounts_only_after_review() -> None:
    policy = Policy()
    assert policy.rule(Change.CREATE_ACCOUNT) is Rule.REVIEW
    assert all(policy.rule(c) is Rule.AUTO for c in Change if c is not Change.CREATE_ACCOUNT)


def test_unknown_change_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="delete_everything"):
        Policy.model_validate({"delete_everything": "auto"})
