"""Commands that name a job (`status`, `events`, `cancel`) reach only the jobs of the caller's
team (or conversation), as `jobs` and `deploy` do (skills/training/service.py `job_resource`).
Before, a trainer of another team could follow and cancel a team's job by its id when that team
worked on a resource of its own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channel import card_text
from tests.e2e.test_provisioning import ADMIN, confirm
from tests.training_flow import FAST, job_cards, job_id_of, train, validate_samples, wait_until


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**FAST, "sandbox_speedup": 3000.0}


async def test_another_team_cannot_follow_or_cancel_a_teams_job(
    conversation: Any, channel: Any
) -> None:
    ada = conversation(aad_object_id=ADMIN, user_name="Ada Admin")  # her own resource
    await confirm(ada, "provision name=aoai-lab2", "Create", "is ready")
    await validate_samples(ada)
    await ada.press(await train(ada), "Confirm training")

    def job() -> str | None:
        return next((job_id_of(channel, c["id"]) for c in job_cards(ada)), None) or None

    job_id = await wait_until(job)
    assert job_id in card_text(await ada.say(f"status {job_id}"))
    assert "Latest events of" in card_text(await ada.say(f"events {job_id}"))

    team_b = conversation(conversation_type="channel", team_id="team-2")
    nothing = f"Azure OpenAI has no job `{job_id}`."
    for command in (f"status {job_id}", f"events {job_id}", f"cancel {job_id}"):
        reply = await team_b.say(f"<at>FineTuneBot</at> {command}")
        assert reply.get("text") == nothing, (command, card_text(reply))
    assert job_id not in card_text(await team_b.say("<at>FineTuneBot</at> jobs"))

    # the same team's other channel works on the same resource, so it reaches the job
    ada_channel = conversation(aad_object_id=ADMIN, conversation_type="channel", team_id="team-1")
    await confirm(ada_channel, "<at>FineTuneBot</at> provision name=aoai-lab3", "Create", "ready")
    other = conversation(conversation_type="channel", team_id="team-1")
    assert "aoai-lab3" in card_text(await other.say("<at>FineTuneBot</at> resource"))
    reply = await other.say(f"<at>FineTuneBot</at> status {job_id}")
    assert reply.get("text") == nothing  # team-1 works on aoai-lab3, the job is on aoai-lab2
