"""The journal: what every session's console printed, per target, private and bounded (docs/history.md).

store.py writes it (JournalWriter, NULL_JOURNAL when off), record.py is the on-disk record, reader.py
reads it back for `sercon history` and `connect --replay`, settings.py turns config and options into
JournalSettings.
"""
