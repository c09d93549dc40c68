"""Practice check-ins: recurring questions sent to people in chat, answers recorded, rounds
reported.

- `schedule`: the pure logic (who is asked when, in which zone; answers checked; summaries);
- `sending`: a round of messages sent to people exactly once, reused by every kind of
  round (check-ins, ownership attestation);
- `planning`, `reminding`, `closing`, `clicks`: the parts of a check-in's life;
- `service`: the parts put together, ticked by every replica;
- `commands`: `/ops checkin ...`; `reports`: a round's report, chart and export.
"""
