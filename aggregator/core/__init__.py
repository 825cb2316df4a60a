"""The core: a question and the cleaning of its text, the action table and the state machine,
the store and its log, the console's views."""
