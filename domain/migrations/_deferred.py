"""For data migrations followed by schema changes in the same migration (not a migration itself:
the loader skips names that start with an underscore)."""


def run_deferred_checks(schema_editor):
    """PostgreSQL refuses to alter a table or build an index in a transaction while deferred
    foreign-key checks from earlier updates are pending: run them now."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
