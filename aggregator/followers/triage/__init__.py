"""Triage: a worker that reads the event's log and scores each new post (question or chatter,
repeat of an open question, abuse, personal data), writing its findings back as log entries.

One module per job: ``personal`` (find and mask personal data), ``questions`` (question score and
reason), ``abuse`` (abuse flag), ``duplicates`` (suggest the open question a post repeats),
``assess`` (all of them on one post), ``worker`` (the consumer group and the atomic write).
"""
