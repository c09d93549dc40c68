"""Ownership attestation: owners confirm, in chat, that what the knowledge says they own is
still theirs; the answers come back as a patch to the knowledge files.

- `freshness`: the pure part (who is asked about what, and how fresh each entity is);
- `service`: planning rounds (sent through the check-ins' exactly-once sending), clicks,
  proposed owners and the maintainers' notice;
- `patch`: a unified diff of the knowledge files from the answers.
"""
