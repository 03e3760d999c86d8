"""SQL, kept together per aggregate. Functions take an open cursor, so the
caller decides the transaction; every statement is parameterised."""
