"""The BAS accounts a restaurant's Z-report uses, with their standard Swedish names."""

from __future__ import annotations

RESTAURANT_ACCOUNTS: dict[int, str] = {
    1580: "Fordringar för kontokort och kuponger",
    1910: "Kassa",
    1930: "Företagskonto/checkkonto/affärskonto",
    2420: "Förskott från kunder",
    2611: "Utgående moms på försäljning inom Sverige, 25 %",
    2621: "Utgående moms på försäljning inom Sverige, 12 %",
    2631: "Utgående moms på försäljning inom Sverige, 6 %",
    3001: "Försäljning inom Sverige, 25 % moms",
    3002: "Försäljning inom Sverige, 12 % moms",
    3003: "Försäljning inom Sverige, 6 % moms",
    3004: "Försäljning inom Sverige, momsfri",
    3740: "Öres- och kronutjämning",
}


def name_of(number: int) -> str | None:
    """The standard BAS name of a restaurant account, or None when it is not one of them."""
    return RESTAURANT_ACCOUNTS.get(number)
