"""Pure domain rules: pricing, rounding, ledger postings, portfolio maths.

Nothing in this package does I/O; everything is exact `Decimal` arithmetic.
"""
