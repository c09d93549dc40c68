"""Check-ins over Slack and Teams at once: one address per person, each message on its
own platform."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.kb import load_knowledge
from bot.model import Entity, PersonSpec, Ref
from bot.platforms import Platforms
from bot.ports import NudgeMessage
from bot.styled import Styled
from tests.fakes import RecordingMessenger


class TeamsLike(RecordingMessenger):
    platform = "teams"

    def address(self, person: Entity, prefer: Sequence[str] = ()) -> str | None:
        spec = person.spec
        return f"teams:{spec.teams}" if isinstance(spec, PersonSpec) and spec.teams else None


class SlackLike(RecordingMessenger):
    platform = "slack"


def person(slack: str | None, teams: str | None) -> Entity:
    from bot.model import Source

    return Entity(
        ref=Ref(kind="person", name="p"),
        title="P",
        spec=PersonSpec(slack=slack, teams=teams),
        source=Source(file="people.yaml", line=1),
    )


def nudge(user: str) -> NudgeMessage:
    return NudgeMessage(key="k", round_id=1, user=user, title="Weekly", questions=())


def test_slack_comes_first_then_teams() -> None:
    """Someone on both is addressed on Slack; someone only on Teams, on Teams."""
    platforms = Platforms([SlackLike(), TeamsLike()])
    assert platforms.address(person("U1", "aad-1")) == "U1"
    assert platforms.address(person(None, "aad-1")) == "teams:aad-1"
    assert platforms.address(person(None, None)) is None


def test_the_order_of_preference_is_the_given_one() -> None:
    """Teams first when it is listed first."""
    assert Platforms([TeamsLike(), SlackLike()]).address(person("U1", "aad-1")) == "teams:aad-1"


async def test_each_nudge_and_report_goes_to_its_own_platform() -> None:
    """A prefixed address goes to its platform, a bare (Slack) id to Slack."""
    slack, teams = SlackLike(), TeamsLike()
    platforms = Platforms([slack, teams])
    await platforms.nudge(nudge("U1"))
    await platforms.nudge(nudge("teams:aad-1"))
    assert [n.user for n in slack.nudges] == ["U1"]
    assert [n.user for n in teams.nudges] == ["teams:aad-1"]
    text = Styled.of("done")
    await platforms.report("#mlops", text, None, "Weekly")
    await platforms.report("teams:19:abc@thread.tacv2", text, None, "Weekly")
    assert [r[0] for r in slack.reports] == ["#mlops"]
    assert [r[0] for r in teams.reports] == ["19:abc@thread.tacv2"]


def test_report_to_takes_a_channel_per_platform(tmp_path: Path) -> None:
    """`report_to: {slack: ..., teams: ...}` reports to both; a bare channel is Slack's."""
    (tmp_path / "c.yaml").write_text(
        """
apiVersion: opsbot/v1
kind: CheckIn
metadata: {name: weekly, title: Weekly}
spec:
  schedule: "0 9 * * MON"
  audience: [person:p]
  questions: [{id: q, text: Done?, type: choice, options: [Yes, No]}]
  report_to: {slack: "#mlops", teams: "19:abc@thread.tacv2"}
---
apiVersion: opsbot/v1
kind: CheckIn
metadata: {name: daily, title: Daily}
spec:
  schedule: "0 9 * * *"
  audience: [person:p]
  questions: [{id: q, text: Done?, type: choice, options: [Yes, No]}]
  report_to: "#daily"
---
apiVersion: opsbot/v1
kind: Person
metadata: {name: p, title: P}
spec: {slack: U1}
""",
        encoding="utf-8",
    )
    result = load_knowledge(tmp_path, today=date(2026, 11, 30))
    assert result.errors == []
    weekly = result.knowledge.get(Ref(kind="checkin", name="weekly"))
    daily = result.knowledge.get(Ref(kind="checkin", name="daily"))
    assert weekly is not None and daily is not None
    assert weekly.spec.report_to == ("#mlops", "teams:19:abc@thread.tacv2")  # type: ignore[union-attr]
    assert daily.spec.report_to == ("#daily",)  # type: ignore[union-attr]


def test_a_check_in_may_prefer_teams() -> None:
    """`platforms: [teams, slack]` on a check-in: someone on both is nudged on Teams."""
    platforms = Platforms([SlackLike(), TeamsLike()])
    assert platforms.address(person("U1", "aad-1"), ("teams", "slack")) == "teams:aad-1"
    assert platforms.address(person("U1", None), ("teams", "slack")) == "U1"


def test_platforms_are_read_and_checked(tmp_path: Path) -> None:
    """`platforms:` keeps its order; an unknown platform is an error at its line."""
    base = """
apiVersion: opsbot/v1
kind: CheckIn
metadata: {{name: weekly, title: Weekly}}
spec:
  schedule: "0 9 * * MON"
  audience: [person:p]
  questions: [{{id: q, text: Done?, type: choice, options: [Yes, No]}}]
  platforms: {platforms}
---
apiVersion: opsbot/v1
kind: Person
metadata: {{name: p, title: P}}
spec: {{slack: U1}}
"""
    (tmp_path / "c.yaml").write_text(base.format(platforms="[teams, slack]"), encoding="utf-8")
    result = load_knowledge(tmp_path, today=date(2026, 11, 30))
    weekly = result.knowledge.get(Ref(kind="checkin", name="weekly"))
    assert weekly is not None
    assert weekly.spec.platforms == ("teams", "slack")  # type: ignore[union-attr]
    (tmp_path / "c.yaml").write_text(base.format(platforms="[email]"), encoding="utf-8")
    (problem,) = load_knowledge(tmp_path, today=date(2026, 11, 30)).errors
    assert problem.line == 9 and "spec.platforms.0" in problem.message
