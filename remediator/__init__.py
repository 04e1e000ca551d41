"""fortnox-remediator: makes failed Z-report exports to Fortnox fix themselves."""

__version__ = "0.1.0"
