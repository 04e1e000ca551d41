"""The standard BAS chart a Swedish restaurant company starts with (a subset: the accounts a
Z-report and its everyday bookkeeping touch), used by the state file's ``seed``."""

from __future__ import annotations

from remediator.bas import RESTAURANT_ACCOUNTS

_MORE: dict[int, str] = {
    1510: "Kundfordringar",
    1630: "Avräkning för skatter och avgifter (skattekonto)",
    1686: "Kortfordringar",
    1920: "PlusGiro",
    2010: "Eget kapital",
    2440: "Leverantörsskulder",
    2640: "Ingående moms",
    2650: "Redovisningskonto för moms",
    2710: "Personalskatt",
    2731: "Avräkning lagstadgade sociala avgifter",
    3010: "Försäljning",
    3041: "Försäljning tjänst 25 % sv",
    3990: "Övriga ersättningar och intäkter",
    4010: "Inköp av varor och material",
    4011: "Inköp livsmedel",
    4012: "Inköp drycker",
    5010: "Lokalhyra",
    5410: "Förbrukningsinventarier",
    6071: "Representation, avdragsgill",
    6570: "Bankkostnader",
    7010: "Löner till kollektivanställda",
    7510: "Arbetsgivaravgifter",
    8310: "Ränteintäkter från omsättningstillgångar",
    8410: "Räntekostnader för skulder till kreditinstitut",
}

SEEDS: dict[str, dict[int, str]] = {
    "bas-restaurant": dict(sorted((RESTAURANT_ACCOUNTS | _MORE).items())),
}
