"""Use cases: each runs the domain rules against the store inside one database
transaction chosen by the caller."""
