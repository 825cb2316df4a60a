"""The ``floor`` command: every command of Floor's processes and records, outside ``web``."""
