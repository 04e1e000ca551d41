"""Who decides: per connection, for each kind of change, ``auto``, ``review`` or ``never``.

The books belong to the restaurant. ``auto`` changes may be applied without a person looking
(the service does so for playbooks marked safe); ``review`` changes are applied only after a
person approved the plan (``remediator fix`` with confirmation, ``apply`` of a saved plan, or the
service's apply endpoint); ``never`` changes are left to the restaurant as a manual step.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Change(StrEnum):
    """The kinds of change the remediator can make in a company's Fortnox."""

    CREATE_SERIES = "create_series"
    SET_MANUAL = "set_manual"
    ACTIVATE_ACCOUNT = "activate_account"
    CREATE_ACCOUNT = "create_account"
    ACTIVATE_COST_CENTRE = "activate_cost_centre"
    RESEND_VOUCHER = "resend_voucher"


class Rule(StrEnum):
    AUTO = "auto"
    REVIEW = "review"
    NEVER = "never"


# An account that does not exist is only ever created after a person reviewed the plan, never
# automatically, whatever a connection's policy says (``never`` still stops it).
ALWAYS_REVIEWED = frozenset({Change.CREATE_ACCOUNT})


class Policy(BaseModel):
    """One rule per kind of change. Defaults live in ``config/remediator.toml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    create_series: Rule = Rule.AUTO
    set_manual: Rule = Rule.AUTO
    activate_account: Rule = Rule.AUTO
    create_account: Rule = Rule.REVIEW
    activate_cost_centre: Rule = Rule.AUTO
    resend_voucher: Rule = Rule.AUTO

    def configured(self, change: Change) -> Rule:
        """The rule as configured for ``change``."""
        return Rule(getattr(self, change.value))

    def rule(self, change: Change) -> Rule:
        """The rule in force: ``auto`` counts as ``review`` for changes that always need one."""
        rule = self.configured(change)
        return Rule.REVIEW if rule is Rule.AUTO and change in ALWAYS_REVIEWED else rule

    def allows(self, change: Change, *, reviewed: bool) -> bool:
        """May ``change`` be written now? ``reviewed``: a person approved this plan."""
        rule = self.rule(change)
        return rule is Rule.AUTO or (rule is Rule.REVIEW and reviewed)

    def explain(self, change: Change) -> str:
        """One line for the report: which rule governs the change."""
        configured, rule = self.configured(change), self.rule(change)
        if configured is rule:
            return f"policy {change.value}={rule.value}"
        return f"policy {change.value}={configured.value}, applied as {rule.value}"

    def changes_to(self, other: Policy) -> list[str]:
        """Each rule that differs in ``other``, as ``change: before → after`` (for the audit)."""
        return [
            f"{change.value}: {self.configured(change).value} → {other.configured(change).value}"
            for change in Change
            if self.configured(change) is not other.configured(change)
        ]
