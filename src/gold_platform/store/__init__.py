"""SQL, kept together per aggregate. Functions take an open cursor, so the
caller decides the transaction; every statement is parameterised.

Rows come back as TypedDicts (the columns each SELECT names, with their
Python types: NUMERIC as Decimal, uuid as str, timestamptz as datetime), so
the services and handlers that read them are checked against the SQL.
"""
