"""Plain helpers for the test suite, by subject: constants, data builders and process launchers
that test modules and conftest files import. Fixtures stay in conftest files; nothing here is
collected (pytest collects only `test_*.py`)."""
