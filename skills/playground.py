"""Chat sessions, as the portal's chat playground: a deployment, a system message, few-shot
examples and the history, per user and conversation (in a channel: per thread).

Every change of a session is one read-modify-write under e-tag concurrency (`RecordStore.update`),
so two quick prompts both land in the history, and a prompt answered after `end` does not bring
the session back.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, _
from skills import chat
from skills.chat import Answer, ChatSession
from skills.context import Context
from skills.deployment.service import Hosting

STORED_HISTORY = 200
"""Messages of history kept in the state store (trimming to the context happens per prompt)."""
NO_SESSION = N_("You are not chatting with a model here; start with `chat <deployment>`.")


@dataclass(frozen=True)
class Side:
    """One column of a comparison: the deployment and its answer, or why it gave none."""

    deployment: str
    answer: Answer | None
    error: str = ""


@dataclass(frozen=True)
class Comparison:
    """The same prompt to two deployments."""

    prompt: str
    left: Side
    right: Side


class Playground:
    """Each user's chat session in each conversation."""

    def __init__(self, ctx: Context, hosting: Hosting) -> None:
        self.ctx = ctx
        self.hosting = hosting

    async def session(self, conversation: str, user: str) -> ChatSession | None:
        """The user's session here, if any."""
        return await self.ctx.records.get(ChatSession.at(conversation, user))

    async def _session(self, conversation: str, user: str) -> ChatSession:
        found = await self.session(conversation, user)
        if found is None:
            raise UserError(NO_SESSION)
        return found

    async def _change(self, session: ChatSession, **changes: object) -> ChatSession:
        """Change fields of the current session (UserError when it has ended meanwhile)."""

        def apply(found: ChatSession | None) -> ChatSession | None:
            return found.model_copy(update=changes) if found is not None else None

        changed = await self.ctx.records.update(session.key(), apply)
        if changed is None:
            raise UserError(NO_SESSION)
        return changed

    async def start(
        self, resource: Resource, conversation: str, user: str, name: str | None
    ) -> ChatSession:
        """Start (or switch) this user's session here, on `resource`; the playground's settings
        are kept."""
        if name is None:
            ready = [f"`{n}`" for n in await self.hosting.ready_names(resource)]
            if not ready:
                raise UserError(
                    "Chat with which deployment? `chat <deployment>`. None is ready now."
                )
            raise UserError(
                "Chat with which deployment? `chat <deployment>`. Ready now: {ready}.",
                ready=", ".join(ready),
            )
        info = await self.hosting.ready(resource, name)
        fresh = ChatSession(
            conversation=conversation,
            user=user,
            resource=resource,
            deployment=info.name,
            model=info.model,
            version=info.version,
        )

        def switch(found: ChatSession | None) -> ChatSession:
            if found is None:
                return fresh
            return fresh.model_copy(update={"system": found.system, "examples": found.examples})

        started = await self.ctx.records.update(fresh.key(), switch)
        assert started is not None
        return started

    async def set_system(self, conversation: str, user: str, text: str) -> ChatSession:
        """Set (or with no text, clear) the system message."""
        return await self._change(await self._session(conversation, user), system=text)

    async def add_example(self, conversation: str, user: str, text: str) -> ChatSession:
        """Add one few-shot pair (`user text => assistant text`)."""
        session = await self._session(conversation, user)
        pair = chat.parse_example(text)

        def apply(found: ChatSession | None) -> ChatSession | None:
            if found is None:
                return None
            return found.model_copy(update={"examples": [*found.examples, pair]})

        changed = await self.ctx.records.update(session.key(), apply)
        if changed is None:
            raise UserError(NO_SESSION)
        return changed

    async def reset(self, conversation: str, user: str) -> tuple[ChatSession, int]:
        """Clear the history (the system message and examples stay); and how much was dropped."""
        session = await self._session(conversation, user)
        return await self._change(session, history=[]), len(session.history)

    async def end(self, conversation: str, user: str) -> ChatSession:
        """Leave the session."""
        session = await self._session(conversation, user)
        await self.ctx.records.delete(session.key())
        return session

    async def prompt(self, conversation: str, user: str, text: str) -> Answer | None:
        """Send a plain message to the session's model (None: there is no session here)."""
        session = await self.session(conversation, user)
        if session is None or not text.strip():
            return None
        encoding = chat.encoding_for(session)
        messages, dropped = chat.build_messages(
            session, text, encoding, chat.prompt_budget(session)
        )
        client = self.ctx.azure.openai(session.resource)
        answer = await chat.complete(client, session.deployment, messages, dropped=dropped)
        await self.hosting.record_use(
            session.resource, answer.deployment, session.model, answer.created
        )
        exchange = [
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer.text},
        ]

        def append(found: ChatSession | None) -> ChatSession | None:
            if found is None or found.deployment != session.deployment:
                return None  # ended or switched meanwhile: this exchange belongs to neither
            return found.model_copy(
                update={
                    "history": (found.history + exchange)[-STORED_HISTORY:],
                    "prompt_tokens": found.prompt_tokens + answer.prompt_tokens,
                    "completion_tokens": found.completion_tokens + answer.completion_tokens,
                }
            )

        await self.ctx.records.update(session.key(), append)
        return answer

    async def compare(self, conversation: str, user: str, other: str, prompt: str) -> Comparison:
        """The same prompt to the session's deployment and another one, side by side."""
        session = await self._session(conversation, user)
        prompt = prompt or session.last_prompt
        if not prompt:
            raise UserError(
                "Compare what? Send a message first, or write `compare <deployment> <prompt>`."
            )
        info = await self.hosting.ready(session.resource, other)
        history = session.history
        if history and history[-1]["role"] == "assistant" and session.last_prompt == prompt:
            history = history[:-2]  # the prompt being compared is the last exchange: ask afresh
        targets = [
            session,
            session.model_copy(
                update={"deployment": info.name, "model": info.model, "version": info.version}
            ),
        ]
        sides: list[tuple[str, list[dict[str, str]]]] = []
        for target in targets:
            view = target.model_copy(update={"history": history})
            messages, _dropped = chat.build_messages(
                view, prompt, chat.encoding_for(view), chat.prompt_budget(view)
            )
            sides.append((target.deployment, messages))
        client = self.ctx.azure.openai(session.resource)
        results = await chat.compare(client, sides[0], sides[1])
        columns: list[Side] = []
        for target, result in zip(targets, results, strict=True):
            if isinstance(result, Answer):
                await self.hosting.record_use(
                    session.resource, result.deployment, target.model, result.created
                )
                columns.append(Side(target.deployment, result))
            else:
                message = result.message
                if isinstance(result, chat.DeploymentGone):
                    message = _(
                        "`{deployment}` is not available: {reason}",
                        deployment=target.deployment,
                        reason=result.message,
                    )
                columns.append(Side(target.deployment, None, message))
        return Comparison(prompt, columns[0], columns[1])
