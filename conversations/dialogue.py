"""The troubleshooting dialogue: one inbound event in, the bot's messages out.

The path is a form: each step fills one slot of the State (symptom, connectivity, address, app,
settings), and the next step is always the first slot still empty. That makes corrections and
"back" simple — change or clear a slot and the dialogue goes on from there — and it makes a
digression a push and a pop: answer the question, then ask the step's question again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.budget import Admission, Budget
from bot.explain import explain, render_text
from bot.logs import bind
from bot.storage import ConversationStore, StaleWrite, StoreUnavailable
from bot.storage.locks import held, kept
from conversations import texts
from conversations.checking import CheckRunner, run_check
from conversations.events import Choice, ConversationKey, Inbound, Outbound, Undelivered
from conversations.presenting import (
    causes,
    escalation_summary,
    present_cause,
    present_diagnosis,
)
from conversations.retention import Retention, end
from conversations.settings_text import merge_setting
from conversations.state import SCHEMA, STEPS, Lang, State
from conversations.understanding import Understanding, understand
from conversations.understanding.normalize import compact

log = logging.getLogger(__name__)

Send = Callable[[Outbound], Awaitable[None]]
Who = tuple[str, str, str]  # platform, workspace, person: whom the probe budget counts
SAVE_RETRIES = 3
# Locks are renewed while held (bot.storage.locks): these say how soon one lapses after its
# holder died, not how long a turn or a check may take.
TURN_LOCK_TTL = 20.0
TURN_LOCK_WAIT = 60.0  # a live holder may be waiting out a platform outage; then go on anyway
DEFAULT_CHECK_LEASE = 15.0
FORM_STEPS = STEPS[: STEPS.index("diagnosing")]  # the steps that each fill one slot
_SLOT_OF_STEP = {
    "ask_symptom": "symptom",
    "ask_connectivity": "connectivity",
    "ask_address": "domain",
    "ask_recipient": "recipient",
    "ask_client": "app",
    "ask_settings": "settings",
}


def lang_of(locale: str | None) -> Lang:
    return "en" if locale and not locale.lower().startswith("ja") else "ja"


class Turn:
    """The messages of one turn, collected before the state is saved, sent after."""

    def __init__(self, state: State, thread: str) -> None:
        self.state = state
        self.thread = thread
        self.out: list[Outbound] = []
        self.rerun = False  # this turn took over a check nobody was running

    @property
    def lang(self) -> Lang:
        return self.state.lang

    def say(self, text: str, step: str | None = None, choices: list[Choice] | None = None) -> None:
        self.out.append(
            Outbound(self.thread, "message", step or self.state.step, text, choices or [])
        )

    def msg(self, name: str, **params: Any) -> None:
        self.say(texts.message(name, self.lang, **params))

    def ask(self, step: str | None = None, variant: str | None = None) -> None:
        """Ask the question of `step` (default: the current one), as it was last asked."""
        step = step or self.state.step
        if (
            variant is None
            and step == "ask_connectivity"
            and self.state.connectivity_remedies_shown
        ):
            variant = "ask_connectivity_after_remedies"
        params: dict[str, Any] = {"case_id": self.state.case_id, "domain": self.state.domain}
        if step == "ask_settings":
            params |= _settings_params(self.state)
        text, choices = texts.prompt(variant or step, self.lang, **params)
        self.say(text, step, choices)


def _settings_params(state: State) -> dict[str, Any]:
    from bot.i18n import t

    protocol = _pending(state)[0] if _pending(state) else "smtp"
    examples = {
        "smtp": "smtp.example.jp 587 STARTTLS",
        "imap": "imap.example.jp 993 SSL/TLS",
        "pop3": "pop.example.jp 995 SSL/TLS",
    }
    return {"protocol_label": t(f"protocol.{protocol}", state.lang), "example": examples[protocol]}


def _pending(state: State) -> list[str]:
    return [p for p in state.protocols() if p not in state.settings]


def next_step(state: State) -> str:
    if state.symptom is None:
        return "ask_symptom"
    if state.connectivity is None:
        return "ask_connectivity"
    if state.domain is None:
        return "ask_address"
    if state.recipient_side and state.recipient is None:
        return "ask_recipient"
    if state.app is None:
        return "ask_client"
    if _pending(state):
        return "ask_settings"
    if state.diagnosis is None:
        return "diagnosing"
    return "ask_resolved"


class Dialogue:
    def __init__(
        self,
        store: ConversationStore,
        run: CheckRunner = run_check,
        *,
        budget: Budget | None = None,
        check_lease: float = DEFAULT_CHECK_LEASE,
        retention: Retention | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.clock = clock  # the store's clock: retention compares it with updated_at
        # None: the store's own idle expiry ends conversations (the console); with a policy, an
        # ended conversation leaves a case summary without text.
        self.retention = retention
        self.run_check = run
        self.budget = budget  # None: no limits (the console is one person on their own machine)
        # A check's lease on its conversation: a replica that dies mid-check loses it after
        # this long, and the next message (or the sweeper) runs the check again.
        self.check_lease = check_lease

    async def open(self, key: ConversationKey, lang: Lang | None, send: Send) -> None:
        """Start a conversation, or resume a saved one where it stopped (console sessions)."""
        for _attempt in range(SAVE_RETRIES):
            record = await self.store.load(str(key))
            fits = record is not None and record.schema == SCHEMA
            turn = Turn(self._state_from(record, Inbound(key, locale=lang)), str(key))
            if lang:
                turn.state.lang = lang
            if record is not None and not fits:
                turn.msg("schema_restart")
            elif record is None:
                turn.msg("greet")
            if turn.state.status != "open":
                status = texts.message(f"status_{turn.state.status}", turn.lang)
                turn.msg("case_over", case_id=turn.state.case_id, status=status)
            elif turn.state.step == "diagnosing":
                turn.state.diagnosis = None  # a check cut short by a restart runs again
            else:
                turn.ask()
            try:
                version = await self._save(
                    str(key), turn.state, record.version if fits and record else 0, record
                )
            except StaleWrite:
                continue
            await self._send_turn(str(key), turn, send)
            if turn.state.step == "diagnosing":
                # A console session is one process: it runs the check a crash cut short even
                # if the dead process's lease has not lapsed yet.
                lease = await self.store.acquire_lock(f"check:{key}", self.check_lease)
                await self._diagnose(str(key), turn.state, version, send, lease, _who(key, None))
            return

    async def status(self, key: ConversationKey) -> str | None:
        """open | escalated | closed, or None when there is no conversation under the key —
        or the store cannot be reached: then only a message meant for the bot (a mention, a
        DM) goes on to `handle`, which tells the person; the channel's chatter does not."""
        try:
            record = await self.store.load(str(key))
        except StoreUnavailable:
            return None
        return str(record.state.get("status", "open")) if record else None

    async def step(self, key: ConversationKey) -> str | None:
        """The step the conversation is on (a button from an older step is stale); None if
        unknown (or the store cannot be reached)."""
        try:
            record = await self.store.load(str(key))
        except StoreUnavailable:
            return None
        return str(record.state.get("step")) if record else None

    async def handle(self, event: Inbound, send: Send) -> None:
        """Process one event; replies go to `send`. A redelivered event is ignored.

        The turn holds the conversation's lock, so replicas take one conversation's messages
        one at a time; the check a turn starts runs after the lock is given back, so the
        person can still write (「やめる」, a correction) while it runs.

        While the store cannot be reached nothing is written (so nothing is half-written) and
        the person is asked to send the message again in a minute."""
        try:
            await self._handle(event, send)
        except StoreUnavailable as exc:
            log.error("conversation store unavailable: %s", exc)
            lang = lang_of(event.locale)
            text = texts.message("store_unavailable", lang)
            with contextlib.suppress(Undelivered):  # the adapter logged it
                await send(Outbound(str(event.key), "message", "", text))

    async def _handle(self, event: Inbound, send: Send) -> None:
        if event.event_id and not await self.store.claim_event(event.event_id):
            return
        key = str(event.key)
        lease: str | None = None  # the check's lease, if this turn is to run the check
        started: tuple[State, int] | None = None
        async with held(self.store, f"conv:{key}", ttl=TURN_LOCK_TTL, wait=TURN_LOCK_WAIT):
            for _attempt in range(SAVE_RETRIES):
                record = await self.store.load(key)
                if (
                    record is not None
                    and self.retention is not None
                    and self.retention.ended(record, self.clock())
                ):
                    await end(self.store, record, locked=True)  # over: a new case begins
                    record = None
                turn = Turn(self._state_from(record, event), key)
                bind(conversation=key, case=turn.state.case_id)
                who = event.sender or (event.key.user if event.key.user != "-" else None)
                if who and who not in turn.state.people:
                    turn.state.people.append(who)
                was_diagnosing = turn.state.step == "diagnosing"
                if was_diagnosing and turn.state.status == "open" and lease is None:
                    # Nobody holds the check's lease: the replica running it died, or the
                    # budget refused it. This turn runs it again.
                    lease = await self.store.acquire_lock(f"check:{key}", self.check_lease)
                turn.rerun = was_diagnosing and lease is not None
                if record is not None and record.schema != SCHEMA:
                    turn.msg("schema_restart")
                self._process(turn, event)
                if turn.rerun and turn.state.step == "diagnosing":
                    self._announce_rerun(turn)
                starts = turn.state.step == "diagnosing" and not was_diagnosing
                if starts and lease is None:
                    # The lease is taken before "diagnosing" is saved, so no sweeper can take
                    # the new check for a dead one. Held already: an earlier check of this
                    # case still runs, and it checks the new facts when it finishes.
                    lease = await self.store.acquire_lock(f"check:{key}", self.check_lease)
                try:
                    version = await self._save(
                        key,
                        turn.state,
                        record.version if record and record.schema == SCHEMA else 0,
                        record,
                    )
                except StaleWrite:
                    continue  # someone else handled a message of this conversation first: redo
                version = await self._send_turn(key, turn, send) or version
                # Only the turn that got there starts the check; a message meanwhile does not.
                if turn.state.step == "diagnosing" and (turn.rerun or starts) and lease:
                    started = (turn.state, version)
                break
            else:
                log.warning(
                    "conversation %s: gave up after %d conflicting writes", key, SAVE_RETRIES
                )
        if started is None:
            if lease is not None:
                with contextlib.suppress(StoreUnavailable):
                    await self.store.release_lock(f"check:{key}", lease)
            return
        assert lease is not None
        await self._diagnose(
            key, started[0], started[1], send, lease, _who(event.key, event.sender)
        )

    async def resume_stalled(
        self,
        send_for: Callable[[ConversationKey], Send | None],
        prefixes: tuple[str, ...] = ("",),
    ) -> int:
        """Run again the checks whose replica died, without waiting for the person to write.

        A check is stalled when its conversation is at "diagnosing" and nobody holds its
        lease. Refused checks wait for the person instead. `prefixes`: the conversation keys
        to look at (the platforms served). Returns how many were resumed."""
        runs: list[asyncio.Task[None]] = []
        for prefix in prefixes:
            for record in await self.store.list_records(prefix):
                state = record.state
                if state.get("step") != "diagnosing" or state.get("status", "open") != "open":
                    continue
                key = ConversationKey.parse(record.key)
                send = send_for(key) if key is not None else None
                if key is None or send is None or state.get("check_refused"):
                    continue
                try:
                    run = await self._take_over(record.key, key, send)
                except StoreUnavailable as exc:
                    log.warning("conversation %s: could not take the check over: %s", key, exc)
                    continue
                if run is not None:
                    runs.append(asyncio.create_task(run))  # its own task and log context
        await asyncio.gather(*runs)
        return len(runs)

    async def _take_over(
        self, name: str, key: ConversationKey, send: Send
    ) -> Coroutine[Any, Any, None] | None:
        """Take the lease of a stalled check and announce it; the check to run, or None."""
        lease = await self.store.acquire_lock(f"check:{name}", self.check_lease)
        if lease is None:
            return None  # running somewhere, or another replica's sweep took it
        try:
            current = await self.store.load(name)
            if current is None or current.state.get("step") != "diagnosing":
                await self.store.release_lock(f"check:{name}", lease)
                return None
            turn = Turn(State.from_dict(current.state), name)
            self._announce_rerun(turn)
            await self._send_turn(name, turn, send)
        except BaseException:
            with contextlib.suppress(StoreUnavailable):
                await self.store.release_lock(f"check:{name}", lease)
            raise
        return self._resume(name, turn.state, current.version, send, lease, _who(key, None))

    async def _resume(
        self, key: str, state: State, version: int, send: Send, lease: str, who: Who
    ) -> None:
        bind(conversation=key, case=state.case_id)
        log.info("resuming a check its replica left unfinished")
        await self._diagnose(key, state, version, send, lease, who)

    async def _send_turn(self, key: str, turn: Turn, send: Send) -> int | None:
        """Send a turn's messages. One the platform would not take, even after retrying for
        a while, is counted in the case (state.undelivered), and the rest still go out.
        Returns the record's new version when that count was saved."""
        failed = 0
        for outbound in turn.out:
            outbound.case_id = turn.state.case_id
            try:
                await send(outbound)
            except Undelivered:
                failed += 1  # the adapter has logged it
        if not failed:
            return None
        turn.state.undelivered += failed
        for _attempt in range(SAVE_RETRIES):
            record = await self.store.load(key)
            if record is None or record.schema != SCHEMA:
                return None
            state = State.from_dict(record.state)
            state.undelivered += failed
            try:
                return (await self.store.save(key, state.to_dict(), SCHEMA, record.version)).version
            except StaleWrite:
                continue
        return None

    def _announce_rerun(self, turn: Turn) -> None:
        state = turn.state
        if state.check_refused:  # the person came back after "wait N seconds"
            text = texts.prompt("diagnosing", turn.lang, domain=state.domain)[0]
        else:
            text = texts.message("check_resumed", turn.lang, domain=state.domain)
        turn.out.append(
            Outbound(turn.thread, "progress", "diagnosing", text, ref=f"progress-{state.case_id}")
        )

    # -- state ----------------------------------------------------------------------------

    def _state_from(self, record: Any, event: Inbound) -> State:
        if record is not None and record.schema == SCHEMA:
            try:
                return State.from_dict(record.state)
            except (KeyError, TypeError, ValueError):
                log.warning("conversation %s: stored state does not fit; restarting", event.key)
        return State(lang=lang_of(event.locale))

    async def _save(self, key: str, state: State, expected: int, record: Any) -> int:
        if record is not None and record.schema != SCHEMA:
            await self.store.delete(key)  # an old schema's record is replaced, not updated
            expected = 0
        saved = await self.store.save(key, state.to_dict(), SCHEMA, expected)
        return saved.version

    # -- one turn -----------------------------------------------------------------------------

    def _process(self, turn: Turn, event: Inbound) -> None:
        state = turn.state
        value = event.value if event.value is not None and not event.text else None
        value = value or _typed_choice(state.step, event.text or "")
        if value is not None:
            understood = _from_choice(value, state.step)
        else:
            understood = understand(event.text or "", state.step)
        if understood.password_pasted:
            turn.out.append(Outbound(turn.thread, "retract", state.step))
            turn.msg("password_warning")
        state.remember(understood.redacted_text or event.value or "")
        if self._command(turn, understood):
            return
        if state.status != "open":
            status = texts.message(f"status_{state.status}", turn.lang)
            turn.msg("case_over", case_id=state.case_id, status=status)
            return
        if self._explain_paste(turn, event.text or "", understood):
            return
        if understood.intent == "ask_question" and understood.topic:
            answer = texts.faq_answer(understood.topic, turn.lang)
            if answer:
                turn.say(answer)
                turn.msg("faq_return")
                turn.ask()
                return
        if understood.intent == "greet":
            turn.msg("greet")
            turn.ask()
            return
        if understood.intent == "thanks" and state.step not in ("ask_resolved",):
            turn.msg("thanks")
            turn.ask()
            return
        self._answer(turn, understood)

    def _explain_paste(self, turn: Turn, text: str, u: Understanding) -> bool:
        """A pasted error, code or bounce is explained at once, whatever the step."""
        if not (u.entities.error_codes or len(text) > 200 or u.intent == "report_problem"):
            return False
        explanation = explain(u.redacted_text or text, turn.lang)
        if not explanation.matches and explanation.bounce is None:
            return False
        state = turn.state
        cause = explanation.top_cause
        if cause:
            state.tried.append(f"explained:{cause}")
        turn.say(render_text(explanation, turn.lang))
        if u.symptom and state.symptom is None:
            state.symptom = u.symptom
        if cause in _SENDING_CAUSES and state.symptom is None:
            state.symptom = "send"
        if state.step in FORM_STEPS:
            self._advance(turn)  # a symptom learnt from the paste may answer the question
        else:
            turn.ask()
        return True

    def _command(self, turn: Turn, u: Understanding) -> bool:
        state = turn.state
        said = compact(u.redacted_text)
        if state.status == "escalated" and _SOLVED.search(said) and not _UNSOLVED.search(said):
            # Whoever handled the case says it is solved: close it with its record.
            state.tried.append("handled by a person")
            self._close(turn)
            return True
        if state.status == "escalated" and _RESUME.search(compact(u.redacted_text)):
            # The person who took the case over hands it back to the bot.
            state.status = "open"
            state.step = next_step(state)
            turn.msg("resumed")
            if state.step == "diagnosing":
                state.diagnosis = None
            turn.ask(state.step if state.step != "diagnosing" else "ask_resolved")
            return True
        if u.intent == "restart":
            turn.state = State(lang=state.lang)
            turn.msg("restarted")
            turn.ask()
            return True
        if u.intent == "stop":
            state.status, state.step = "closed", "closed"
            turn.msg("stopped")
            return True
        if u.intent == "escalate":
            self._escalate(turn)
            return True
        if u.intent == "help":
            turn.msg("help")
            if state.status == "open":
                turn.ask()
            return True
        if u.intent == "switch_language":
            text = u.redacted_text.lower()
            english = bool(re.search(r"english|英語|えいご|(?<![a-z])en(?![a-z])", text))
            japanese = bool(re.search(r"japanese|日本語|にほんご|(?<![a-z])ja(?![a-z])", text))
            if english != japanese:
                state.lang = "en" if english else "ja"
            else:  # no language named (or both): switch to the other one
                state.lang = "en" if state.lang == "ja" else "ja"
            turn.msg("switched")
            if state.status == "open":
                turn.ask()
            return True
        if u.intent == "back":
            self._back(turn)
            return True
        return False

    def _back(self, turn: Turn) -> None:
        state = turn.state
        if state.status != "open":
            status = texts.message(f"status_{state.status}", turn.lang)
            turn.msg("case_over", case_id=state.case_id, status=status)
            return
        current = FORM_STEPS.index(state.step) if state.step in FORM_STEPS else len(FORM_STEPS)
        visited = [s for s in FORM_STEPS[:current] if s != "ask_recipient" or state.recipient_side]
        earlier = visited
        if not earlier:
            turn.msg("back_nothing")
            turn.ask()
            return
        previous = earlier[-1]
        _clear_slot(state, previous)
        state.diagnosis, state.causes_shown = None, 0
        state.status, state.step = "open", previous
        turn.ask()

    def _answer(self, turn: Turn, u: Understanding) -> None:
        state = turn.state
        step = state.step
        changed = _apply_info(state, u)
        slot = _SLOT_OF_STEP.get(step)
        if changed and slot not in changed and step in FORM_STEPS:
            # A correction of something said earlier; the current question is still open.
            turn.msg("noted")
            self._advance(turn)
            return
        if step in ("diagnosis", "ask_resolved") and changed:
            # A correction after the diagnosis: diagnose again with the new facts.
            state.diagnosis, state.causes_shown = None, 0
            turn.msg("noted")
            self._advance(turn)
            return
        if step == "ask_symptom":
            if state.symptom is None:
                if u.intent == "report_problem":
                    turn.ask(variant="ask_symptom_ambiguous")
                else:
                    turn.msg("not_understood")
                    turn.ask()
                return
        elif step == "ask_connectivity":
            if not self._connectivity(turn, u):
                return
        elif step == "ask_recipient":
            if state.recipient is None:
                turn.msg("address_invalid", value=(u.redacted_text or "")[:60])
                turn.ask()
                return
        elif step == "ask_address":
            if state.domain is None:
                turn.msg("address_invalid", value=(u.redacted_text or "")[:60])
                turn.ask()
                return
        elif step == "ask_client":
            if state.app is None:
                state.app = "other"
        elif step == "ask_settings":
            if not self._settings(turn, u, changed):
                return
        elif step in ("diagnosis", "ask_resolved"):
            self._resolved(turn, u)
            return
        elif step == "diagnosing":
            if not turn.rerun:  # a check taken over is announced by handle()
                turn.say(texts.prompt("diagnosing", turn.lang, domain=state.domain)[0])
            return
        self._advance(turn)

    def _advance(self, turn: Turn) -> None:
        turn.state.step = next_step(turn.state)
        if turn.state.step == "diagnosing":
            turn.out.append(
                Outbound(
                    turn.thread,
                    "progress",
                    "diagnosing",
                    texts.prompt("diagnosing", turn.lang, domain=turn.state.domain)[0],
                    ref=f"progress-{turn.state.case_id}",
                )
            )
            return
        turn.ask()

    def _connectivity(self, turn: Turn, u: Understanding) -> bool:
        """True when the step is answered and the dialogue may go on."""
        state = turn.state
        if u.intent == "affirm" and not state.connectivity_remedies_shown:
            state.connectivity = True
            return True
        if u.intent == "affirm":  # mail works after the remedies
            state.tried.append("connection")
            turn.msg("connectivity_fixed")
            self._close(turn)
            return False
        if u.intent in ("deny", "report_problem", "dont_know"):
            if not state.connectivity_remedies_shown:
                state.connectivity_remedies_shown = True
                turn.msg("remedies")
                turn.ask(variant="ask_connectivity_after_remedies")
                return False
            state.connectivity = False
            state.tried.append("connection")
            turn.msg("connectivity_still")
            return True
        turn.msg("not_understood")
        turn.ask(
            variant="ask_connectivity_after_remedies" if state.connectivity_remedies_shown else None
        )
        return False

    def _settings(self, turn: Turn, u: Understanding, changed: set[str]) -> bool:
        state = turn.state
        pending = _pending(state)
        if not pending:
            return True
        if u.intent == "dont_know" and not state.settings.get("_where_shown"):
            state.settings["_where_shown"] = "1"
            text, choices = texts.prompt(
                "ask_settings_where", turn.lang, where=texts.app_where(state.app, turn.lang)
            )
            turn.say(text, "ask_settings", choices)
            return False
        if u.intent in ("dont_know", "skip", "deny"):
            for protocol in pending:
                state.settings[protocol] = ""  # diagnose from discovery alone
            state.settings.pop("_where_shown", None)
            return True
        if "settings" not in changed:
            turn.msg("settings_unreadable")
            turn.ask()
            return False
        state.settings.pop("_where_shown", None)
        return True

    def _resolved(self, turn: Turn, u: Understanding) -> None:
        state = turn.state
        if u.intent in ("affirm", "thanks"):
            self._close(turn)
            return
        if u.intent in ("deny", "report_problem", "dont_know"):
            likely = causes(state.diagnosis)
            if state.causes_shown < len(likely):
                cause = likely[state.causes_shown]
                state.tried.append(cause["code"])
                state.causes_shown += 1
                turn.say(present_cause(cause, turn.lang, first=False))
                turn.ask("ask_resolved")
                return
            turn.msg("no_more_causes")
            self._escalate(turn)
            return
        turn.msg("not_understood")
        turn.ask("ask_resolved")

    def _close(self, turn: Turn) -> None:
        self._finish(turn, "closed")

    def _escalate(self, turn: Turn) -> None:
        self._finish(turn, "escalated")

    def _finish(self, turn: Turn, status: str) -> None:
        """Close or hand over the case; either way the summary goes with it."""
        state = turn.state
        state.status = state.step = status
        summary = escalation_summary(state)
        turn.out.append(
            Outbound(turn.thread, "summary", status, summary, ref=f"summary-{state.case_id}")
        )
        turn.ask(status)

    # -- diagnosing -------------------------------------------------------------------------

    async def _diagnose(
        self, key: str, state: State, version: int, send: Send, lease: str | None, who: Who
    ) -> None:
        """Run the check and give its result; `lease` (the check's lock) is renewed while it
        runs and given back after. If the person corrected a fact the check depends on while
        it ran, it runs again."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                if lease is not None:
                    await stack.enter_async_context(
                        kept(self.store, f"check:{key}", lease, self.check_lease)
                    )
                again: tuple[State, int] | None = (state, version)
                while again is not None:
                    again = await self._check_once(key, *again, send, who)
        except StoreUnavailable as exc:
            # The result cannot be kept: the conversation stays at "diagnosing", and once the
            # store is back the lease lapses and the check runs again (the sweeper, or the
            # person's next message).
            log.error("conversation store unavailable during a check: %s", exc)
            text = texts.message("store_unavailable_check", state.lang)
            with contextlib.suppress(Undelivered):
                await send(Outbound(key, "message", "diagnosing", text, case_id=state.case_id))

    async def _check_once(
        self, key: str, state: State, version: int, send: Send, who: Who
    ) -> tuple[State, int] | None:
        progress_ref = f"progress-{state.case_id}"

        async def progress(text: str) -> None:
            progress_message = Outbound(
                key, "progress", "diagnosing", text, replaces=progress_ref, case_id=state.case_id
            )
            with contextlib.suppress(Undelivered):  # a lost progress line loses nothing
                await send(progress_message)

        admission = Admission(None)
        if self.budget is not None:

            async def queued() -> None:
                await progress(texts.message("check_queued", state.lang, domain=state.domain))

            admission = await self.budget.admit(*who, waiting=queued)
            if admission.slot is None:
                state.check_refused = True
                turn = Turn(state, key)
                text, choices = texts.prompt(
                    "check_later", state.lang, seconds=f"{admission.wait:.0f}"
                )
                turn.say(text, "diagnosing", choices)
                return await self._give_result(key, state, version, turn, send)
        try:
            result = await self.run_check(state, progress)
        except Exception:
            log.exception("conversation %s: the check failed", key)
            result = None
        finally:
            if self.budget is not None:
                await self.budget.done(admission)
        state.check_refused = False
        turn = Turn(state, key)
        if result is None:
            turn.msg("check_failed")
            state.diagnosis = {"findings": [], "failed": True}
            state.step = "ask_resolved"
        else:
            state.diagnosis = result
            state.step = "diagnosis"
            text = present_diagnosis(state, result)
            turn.out.append(Outbound(key, "diagnosis", "diagnosis", text, result=result))
            likely = causes(result)
            state.causes_shown = 1 if likely else 0
            if likely:
                state.tried.append(likely[0]["code"])
            state.step = "ask_resolved"
            turn.ask("ask_resolved")
        return await self._give_result(key, state, version, turn, send)

    async def _give_result(
        self, key: str, state: State, version: int, turn: Turn, send: Send
    ) -> tuple[State, int] | None:
        """Save what the check found and send it, under the conversation's lock so it comes
        in order with the turns. Returns the state to check again, if the facts changed."""
        async with held(self.store, f"conv:{key}", ttl=TURN_LOCK_TTL, wait=TURN_LOCK_WAIT):
            for _attempt in range(SAVE_RETRIES):
                try:
                    await self.store.save(key, state.to_dict(), SCHEMA, version)
                    break
                except StaleWrite:
                    # The person wrote while we were checking.
                    record = await self.store.load(key)
                    if record is None:
                        return None
                    newer = State.from_dict(record.state)
                    if newer.step != "diagnosing" or newer.case_id != state.case_id:
                        return None  # they moved on (restart, stop): the result is not wanted
                    if _facts(newer) != _facts(state):
                        return newer, record.version  # they corrected a fact: check again
                    newer.diagnosis, newer.step = state.diagnosis, state.step
                    newer.causes_shown, newer.tried = state.causes_shown, state.tried
                    newer.check_refused = state.check_refused
                    state, version = newer, record.version
            else:
                log.warning("conversation %s: the diagnosis could not be saved", key)
                return None
            turn.state = state
            await self._send_turn(key, turn, send)
        return None


def _who(key: ConversationKey, sender: str | None) -> Who:
    """Whom a check counts against: the person who wrote, else the conversation's person,
    else (a channel thread resumed by the sweeper) the thread."""
    person = sender or (key.user if key.user != "-" else f"{key.channel}/{key.thread}")
    return key.platform, key.workspace, person


def _facts(state: State) -> tuple[object, ...]:
    """What a check depends on."""
    return (state.symptom, state.domain, state.address, state.recipient, state.settings)


_SOLVED = re.compile(
    r"^(解決しました|解決した|解決済み?|resolved|solved|close|closed|closethecase)[。.!!]?$"
)
_UNSOLVED = re.compile(r"未解決|まだ|not|unresolved|un")
_RESUME = re.compile(r"^(resume|再開|再開して|再開してください|ボットに戻す|botに戻す)$")

# The prompts whose choices a step shows (a step may ask in more than one way).
_PROMPTS_OF_STEP = {
    "ask_symptom": ("ask_symptom", "ask_symptom_ambiguous"),
    "ask_connectivity": ("ask_connectivity", "ask_connectivity_after_remedies"),
    "ask_recipient": ("ask_recipient",),
    "ask_client": ("ask_client",),
    "ask_settings": ("ask_settings", "ask_settings_where"),
    "diagnosis": ("ask_resolved",),
    "ask_resolved": ("ask_resolved",),
}


# Causes that say the trouble is on the sending side.
_SENDING_CAUSES = frozenset(
    {
        "recipient_unknown", "domain_not_found", "mailbox_full", "message_too_large",
        "mailbox_disabled", "relay_denied", "sender_rejected", "spf_fail", "dkim_fail",
        "dmarc_fail", "no_ptr", "rate_limited", "spam_blocked", "greylisted", "null_mx",
        "delivery_expired", "quota_sending_limit",
    }
)  # fmt: skip


def _typed_choice(step: str, text: str) -> str | None:
    """Typing a button's label, in either language, is the same as clicking it."""
    typed = compact(text)
    if not typed:
        return None
    for prompt in _PROMPTS_OF_STEP.get(step, ()):
        for choice in texts.flow()["steps"][prompt].get("choices", []):
            if typed in (compact(choice["ja"]), compact(choice["en"])):
                return str(choice["value"])
    return None


def _from_choice(value: str, step: str) -> Understanding:
    """A clicked choice acts like typing its value."""
    if value in ("send", "receive", "both"):
        return Understanding("report_problem", symptom=value)
    if value == "yes":
        return Understanding("affirm")
    if value == "no":
        return Understanding("deny")
    if value in ("dont_know",):
        return Understanding("dont_know")
    if value == "skip":
        return Understanding("skip")
    if value == "recheck":
        return Understanding("affirm")  # "check again" while a refused check waits
    if value == "escalate":
        return Understanding("escalate")
    if step == "ask_client":
        u = Understanding("provide_info")
        u.entities.app = value
        return u
    return understand(value, step)


def _clear_slot(state: State, step: str) -> None:
    if step == "ask_symptom":
        state.symptom = None
    elif step == "ask_connectivity":
        state.connectivity, state.connectivity_remedies_shown = None, False
    elif step == "ask_address":
        state.address = state.domain = None
    elif step == "ask_recipient":
        state.recipient = None
    elif step == "ask_client":
        state.app = None
    elif step == "ask_settings":
        state.settings = {}


def _apply_info(state: State, u: Understanding) -> set[str]:
    """Fill or correct slots from what the message said; the names of the slots changed."""
    before = {
        "symptom": state.symptom,
        "domain": (state.domain, state.address),
        "app": state.app,
        "settings": dict(state.settings),
        "recipient": state.recipient,
    }
    if u.recipient_side:
        state.recipient_side = True
    if state.step == "ask_recipient":
        if u.entities.address:
            state.recipient = u.entities.address
        elif u.intent in ("dont_know", "skip", "deny"):
            state.recipient = ""  # check the person's own side only
        return {"recipient"} if state.recipient is not None else set()
    if u.symptom and (
        u.intent in ("report_problem", "provide_info") or state.step == "ask_symptom"
    ):
        state.symptom = u.symptom
    entities = u.entities
    if entities.address:
        state.address, state.domain = entities.address, entities.domain
    elif (
        entities.domain
        and (state.step == "ask_address" or u.intent == "provide_info")
        and not entities.has_settings()
    ):
        state.address, state.domain = f"@{entities.domain}", entities.domain
    if entities.app:
        state.app = entities.app
    if entities.has_settings():
        merge_setting(state, entities)
    after = {
        "symptom": state.symptom,
        "domain": (state.domain, state.address),
        "app": state.app,
        "settings": dict(state.settings),
        "recipient": state.recipient,
    }
    return {name for name in before if before[name] != after[name]}
