"""Fortnox resources the remediator reads and writes, named and aliased as in Fortnox's OpenAPI.

Keys are matched case-insensitively (Fortnox varies key case), unknown keys are ignored, and
the alternative names that REFERENCE.md lists are accepted (``accountCharts``).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Setting = Literal["ALLOWED", "MANDATORY", "NOTALLOWED"]

# Per model class: each key's lower-case spelling -> the alias it is matched onto.
_KEYS: dict[type, dict[str, str]] = {}


class FortnoxModel(BaseModel):
    """Base of every model: Fortnox aliases, any key case, unknown keys ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    # Extra spellings seen in the wild, mapped onto the alias the spec uses.
    alternatives: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _match_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        keys = _KEYS.get(cls) or _key_map(cls)
        matched: dict[str, Any] = {}
        for key, value in data.items():
            matched.setdefault(keys.get(str(key).lower()) or key, value)
        return matched

    def payload(self) -> dict[str, Any]:
        """The JSON body Fortnox expects: aliases, ISO dates, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _key_map(cls: type[FortnoxModel]) -> dict[str, str]:
    """Made once per class (every item of every answer passes ``_match_keys``)."""
    fields = cls.model_fields.items()
    aliases = {(f.alias or name).lower(): f.alias or name for name, f in fields}
    alternatives = {k.lower(): v for k, v in cls.alternatives.items()}
    keys = _KEYS[cls] = alternatives | aliases  # an alias wins over an alternative
    return keys


class MetaInformation(FortnoxModel):
    total_resources: int = Field(0, alias="@TotalResources")
    total_pages: int = Field(1, alias="@TotalPages")
    current_page: int = Field(1, alias="@CurrentPage")


class FinancialYear(FortnoxModel):
    alternatives: ClassVar[dict[str, str]] = {"accountCharts": "AccountChartType"}

    id: int = Field(alias="Id")
    from_date: date = Field(alias="FromDate")
    to_date: date = Field(alias="ToDate")
    account_chart_type: str | None = Field(None, alias="AccountChartType")
    accounting_method: Literal["ACCRUAL", "CASH"] | None = Field(None, alias="AccountingMethod")

    def covers(self, day: date) -> bool:
        return self.from_date <= day <= self.to_date


class VoucherSeries(FortnoxModel):
    code: str = Field(alias="Code", min_length=1, max_length=10)
    description: str | None = Field(None, alias="Description", max_length=200)
    manual: bool | None = Field(None, alias="Manual")
    year: int | None = Field(None, alias="Year")
    next_voucher_number: int | None = Field(None, alias="NextVoucherNumber")


class Account(FortnoxModel):
    number: int = Field(alias="Number", ge=1000, le=9999)
    description: str = Field(alias="Description", min_length=1, max_length=200)
    active: bool | None = Field(None, alias="Active")
    year: int | None = Field(None, alias="Year")
    sru: int | None = Field(None, alias="SRU")
    vat_code: str | None = Field(None, alias="VATCode")
    balance_brought_forward: float | None = Field(None, alias="BalanceBroughtForward")
    cost_center: str | None = Field(None, alias="CostCenter")
    cost_center_settings: Setting | None = Field(None, alias="CostCenterSettings")
    project: str | None = Field(None, alias="Project")
    project_settings: Setting | None = Field(None, alias="ProjectSettings")

    @field_validator("sru", mode="before")
    @classmethod
    def _empty_sru(cls, value: Any) -> Any:
        return None if value in ("", None) else value


class Chart(MutableMapping[int, Account]):
    """A year's chart of accounts by number, as Fortnox listed it, and as a run changed it
    since. An account is validated when it is looked up: a chart has hundreds of accounts and a
    voucher uses a few, and every run of a burst reads the chart (from the session's memory)
    again."""

    def __init__(self, items: list[Any]) -> None:
        self._items: dict[int, Any] = {}
        for item in items:
            number = _number_of(item)
            if number is not None:
                self._items.setdefault(number, item)
        self._accounts: dict[int, Account] = {}

    def __getitem__(self, number: int) -> Account:
        account = self._accounts.get(number)
        if account is None:
            account = self._accounts[number] = Account.model_validate(self._items[number])
        return account

    def __setitem__(self, number: int, account: Account) -> None:
        self._items[number] = account
        self._accounts[number] = account

    def __delitem__(self, number: int) -> None:
        del self._items[number]
        self._accounts.pop(number, None)

    def __iter__(self) -> Iterator[int]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _number_of(item: Any) -> int | None:
    """An item's account number, its key matched as ``Account`` matches keys (any case, the
    alternative spellings); ``None`` without a usable one."""
    if not isinstance(item, dict):
        return None
    value = item.get("Number")
    if value is None:
        keys = _KEYS.get(Account) or _key_map(Account)
        value = next((v for k, v in item.items() if keys.get(str(k).lower()) == "Number"), None)
    try:
        return int(value) if isinstance(value, int | str) else None
    except ValueError:
        return None


class VoucherRow(FortnoxModel):
    # Not range-checked: a failed export's voucher may carry no valid account (that can be
    # the very error), and it must still be accepted to be explained. Fortnox checks on POST.
    account: int | None = Field(None, alias="Account")
    debit: float | None = Field(None, alias="Debit")
    credit: float | None = Field(None, alias="Credit")
    transaction_information: str | None = Field(
        None, alias="TransactionInformation", max_length=100
    )
    description: str | None = Field(None, alias="Description")
    cost_center: str | None = Field(None, alias="CostCenter")
    project: str | None = Field(None, alias="Project")
    quantity: float | None = Field(None, alias="Quantity")
    removed: bool | None = Field(None, alias="Removed")


class Voucher(FortnoxModel):
    voucher_series: str = Field(alias="VoucherSeries")
    transaction_date: date = Field(alias="TransactionDate")
    description: str | None = Field(None, alias="Description", max_length=200)
    comments: str | None = Field(None, alias="Comments", max_length=1000)
    voucher_number: int | None = Field(None, alias="VoucherNumber")
    year: int | None = Field(None, alias="Year")
    reference_number: str | None = Field(None, alias="ReferenceNumber")
    reference_type: str | None = Field(None, alias="ReferenceType")
    approval_state: int | None = Field(None, alias="ApprovalState")
    cost_center: str | None = Field(None, alias="CostCenter")
    project: str | None = Field(None, alias="Project")
    voucher_rows: tuple[VoucherRow, ...] = Field((), alias="VoucherRows")

    def accounts(self) -> list[int]:
        """The account numbers the rows use, in order of first use."""
        return list(dict.fromkeys(row.account for row in self.voucher_rows if row.account))

    def new_voucher_payload(self) -> dict[str, Any]:
        """The body of a POST: read-only fields (number, year, state) left out."""
        return self.model_dump(
            mode="json",
            by_alias=True,
            exclude_none=True,
            exclude={"voucher_number", "year", "approval_state"},
        )


class CompanyInformation(FortnoxModel):
    company_name: str | None = Field(None, alias="CompanyName")
    organization_number: str | None = Field(None, alias="OrganizationNumber")
    database_number: int | None = Field(None, alias="DatabaseNumber")
    address: str | None = Field(None, alias="Address")
    city: str | None = Field(None, alias="City")
    zip_code: str | None = Field(None, alias="ZipCode")
    country_code: str | None = Field(None, alias="CountryCode")


class Me(FortnoxModel):
    id: str | None = Field(None, alias="Id")
    name: str | None = Field(None, alias="Name")
    email: str | None = Field(None, alias="Email")
    sys_admin: bool | None = Field(None, alias="SysAdmin")
    locale: str | None = Field(None, alias="Locale")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class CostCenter(FortnoxModel):
    """A cost centre (kostnadsställe): one set per company, not per financial year."""

    code: str = Field(alias="Code", min_length=1)
    description: str | None = Field(None, alias="Description")
    note: str | None = Field(None, alias="Note")
    active: bool | None = Field(None, alias="Active")


class LockedPeriod(FortnoxModel):
    end_date: date | None = Field(None, alias="EndDate")

    @field_validator("end_date", mode="before")
    @classmethod
    def _empty_date(cls, value: Any) -> Any:
        return None if value == "" else value

    def locks(self, day: date) -> bool:
        return self.end_date is not None and day <= self.end_date
