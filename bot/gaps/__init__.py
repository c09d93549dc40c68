"""Knowledge gaps come back as knowledge: the weekly digest of questions the bot could not
answer well, the suggestions people make from it, and those suggestions as YAML.

- `digest`: when a digest falls due, what it holds, how it reads (pure);
- `suggestions`: a suggestion checked against the knowledge (pure);
- `export`: suggestions as ready-to-commit knowledge YAML (pure);
- `service`: `GapService`, which claims, posts and keeps, through the ports.
"""

from bot.gaps.digest import DigestSchedule
from bot.gaps.service import GapService

__all__ = ["DigestSchedule", "GapService"]
