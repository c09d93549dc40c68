"""opsbot: ownership answers and practice check-ins for *Ops teams in Slack, Teams, a terminal."""

__version__ = "0.1.0"
