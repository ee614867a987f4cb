"""The helpdesk's view of the conversations: a case list and the most common causes.

Pure functions over the store's Records (`mail-doctor cases` reads the store and calls them).
Nothing the people wrote is shown: the rows carry identifiers, the step, the symptom, the
domain, the app and the likely cause, never the history (or the address, settings or notes).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.i18n import Lang, catalog, format_text
from bot.storage import Record
from conversations.events import ConversationKey
from conversations.presenting import causes
from conversations.retention import CASE_PREFIX, DAY, EXPLAINED

SUMMARY_DAYS = 7.0  # the period of --summary when --since is not given

# `checked`: whether the diagnosis engine ran for the case, and how it went.
CHECK_NO, CHECK_YES, CHECK_FAILED = "no", "yes", "failed"

_TEXTS: dict[str, dict[Lang, str]] = {
    "no_cases": {"ja": "ケースはありません。", "en": "No cases."},
    "no_match": {"ja": "条件に合うケースはありません。", "en": "No cases match."},
    "no_period": {
        "ja": "{since} 〜 {until} に更新されたケースはありません。",
        "en": "No cases were updated between {since} and {until}.",
    },
    "summary_title": {
        "ja": "よくある原因({since} 〜 {until}、ケース {cases} 件)",
        "en": "Most common causes, {since} to {until} ({cases} cases)",
    },
    "summary_none": {
        "ja": "この期間のケースには、原因が見つかったものがありません。",
        "en": "No likely cause was found in this period's cases.",
    },
    "explained": {"ja": "貼り付けられたエラー: {cause}", "en": "Pasted error: {cause}"},
    "since_invalid": {
        "ja": "--since には 0 より大きい日数を指定してください({value} は使えません)。",
        "en": "--since takes a number of days greater than 0, not {value}.",
    },
    "store_unavailable": {
        "ja": "ケースを読み込めません: {detail}",
        "en": "Cannot list the cases: {detail}",
    },
    "retention": {
        "ja": "注意: ケースの記録は {days} 日で消えます(MAIL_DOCTOR_CASE_RETENTION_DAYS)。"
        "それより前のケースは数えられません。",
        "en": "Note: cases are kept for {days} days (MAIL_DOCTOR_CASE_RETENTION_DAYS), "
        "so older cases are not counted.",
    },
}

_LIST_HEADERS: dict[Lang, tuple[str, ...]] = {
    "ja": (
        "ケース",
        "状態",
        "サービス",
        "場所",
        "開始",
        "更新",
        "ステップ",
        "症状",
        "ドメイン",
        "アプリ",
        "考えられる原因",
        "診断",
    ),
    "en": (
        "CASE",
        "STATUS",
        "PLATFORM",
        "WHERE",
        "OPENED",
        "UPDATED",
        "STEP",
        "SYMPTOM",
        "DOMAIN",
        "APP",
        "LIKELY CAUSE",
        "CHECKED",
    ),
}
_SUMMARY_HEADERS: dict[Lang, tuple[str, ...]] = {
    "ja": ("件数", "原因", "内容"),
    "en": ("COUNT", "CAUSE", "TITLE"),
}


def message(name: str, lang: Lang, **params: Any) -> str:
    """One of this module's messages (also used by the CLI for its errors)."""
    return format_text(_TEXTS[name][lang], params)


@dataclass(frozen=True)
class CaseRow:
    """One case as staff see it. Times are unix seconds."""

    case_id: str
    status: str  # open | escalated | closed
    platform: str
    workspace: str
    channel: str
    thread: str  # "-" when the conversation is not in a thread
    opened: float
    updated: float
    step: str
    symptom: str | None  # send | receive | both
    domain: str | None
    app: str | None  # the app id of conversations/apps.toml
    likely_cause: str | None  # the code of the top finding of causes(), if the check found one
    checked: str  # "no" (no check ran yet), "yes" (it ran), "failed" (it could not finish)

    @property
    def where(self) -> str:
        parts = [self.workspace, self.channel] + ([self.thread] if self.thread != "-" else [])
        return "/".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "status": self.status,
            "platform": self.platform,
            "workspace": self.workspace,
            "channel": self.channel,
            "thread": self.thread,
            "opened_at": iso_utc(self.opened),
            "updated_at": iso_utc(self.updated),
            "step": self.step,
            "symptom": self.symptom,
            "domain": self.domain,
            "app": self.app,
            "likely_cause": self.likely_cause,
            "checked": self.checked,
        }


# -- rows and counts


def case_rows(
    records: Iterable[Record], status: str | None = None, since: float | None = None
) -> list[CaseRow]:
    """The cases among `records`, newest first (by when they were opened, then updated).

    Records whose key is not a conversation key (the store's other bookkeeping) are skipped.
    `status` keeps only cases with that status; `since` (unix time) only cases updated at or
    after it, so a case opened long ago that is still going on is included.
    """
    rows = []
    for record in records:
        row = case_row(record)
        if row is None:
            continue
        if status is not None and row.status != status:
            continue
        if since is not None and row.updated < since:
            continue
        rows.append(row)
    rows.sort(key=lambda r: (-r.opened, -r.updated, r.case_id))
    return rows


def common_causes(
    records: Iterable[Record], since: float, until: float, *, status: str | None = None
) -> list[tuple[str, int]]:
    """How many cases updated between `since` and `until` (unix times, inclusive) had each
    cause, most common first (then by code).

    A case counts once for its likely cause (the code of the top finding of
    `conversations.presenting.causes()`, as the person was first told), and once more for
    every distinct cause of an error message they pasted, which the dialogue records in
    `tried` as "explained:<cause id>" and which is counted under that same string: a pasted
    error is separate evidence from the live check, so both count, but repeating one paste
    does not. The causes suggested after the first (also in `tried`) are not counted: they
    are only the next guesses. A case without either is counted by nothing here (it still
    counts among the cases of the period). `status` keeps only cases with that status.
    """
    tally: Counter[str] = Counter()
    for record in records:
        row = case_row(record)
        if row is None or not since <= row.updated <= until:
            continue
        if status is not None and row.status != status:
            continue
        codes = {row.likely_cause} if row.likely_cause else set()
        tried = record.state.get("tried")
        for entry in tried if isinstance(tried, list) else []:
            if isinstance(entry, str) and entry.startswith(EXPLAINED) and entry != EXPLAINED:
                codes.add(entry)
        tally.update(codes)
    return sorted(tally.items(), key=lambda item: (-item[1], item[0]))


def likely_cause(diagnosis: object) -> str | None:
    """The code of the cause the person was told first, or None (no check, nothing wrong)."""
    if not isinstance(diagnosis, dict):
        return None
    try:
        likely = causes(diagnosis)
    except (KeyError, TypeError, AttributeError):  # a malformed finding: nothing to tell
        return None
    code = likely[0].get("code") if likely else None
    return code if isinstance(code, str) else None


def case_row(record: Record) -> CaseRow | None:
    """The case of a conversation record, or of the summary kept after it ended; None for
    the store's other records."""
    if record.key.startswith(CASE_PREFIX):
        return _summary_row(record.state)
    key = ConversationKey.parse(record.key)
    state = record.state
    if key is None or not isinstance(state, dict):
        return None
    diagnosis = state.get("diagnosis")
    if not isinstance(diagnosis, dict):
        checked = CHECK_NO
    elif diagnosis.get("failed"):
        checked = CHECK_FAILED
    else:
        checked = CHECK_YES
    created = state.get("created_at")
    opened = (
        float(created)
        if isinstance(created, int | float) and not isinstance(created, bool)
        else record.updated_at
    )
    return CaseRow(
        case_id=_text(state.get("case_id")) or "-",
        status=_text(state.get("status")) or "open",
        platform=key.platform,
        workspace=key.workspace,
        channel=key.channel,
        thread=key.thread,
        opened=opened,
        updated=record.updated_at,
        step=_text(state.get("step")) or "-",
        symptom=_text(state.get("symptom")),
        domain=_text(state.get("domain")),
        app=_text(state.get("app")),
        likely_cause=likely_cause(diagnosis),
        checked=checked,
    )


def _summary_row(summary: dict[str, Any]) -> CaseRow | None:
    """A case summary (conversations.retention.case_summary): the row it was made from."""
    key = ConversationKey.parse(str(summary.get("conversation", "")))
    opened, updated = summary.get("created_at"), summary.get("updated_at")
    if key is None or not isinstance(opened, int | float) or not isinstance(updated, int | float):
        return None
    return CaseRow(
        case_id=_text(summary.get("case_id")) or "-",
        status=_text(summary.get("status")) or "open",
        platform=key.platform,
        workspace=key.workspace,
        channel=key.channel,
        thread=key.thread,
        opened=float(opened),
        updated=float(updated),
        step=_text(summary.get("step")) or "-",
        symptom=_text(summary.get("symptom")),
        domain=_text(summary.get("domain")),
        app=_text(summary.get("app")),
        likely_cause=_text(summary.get("likely_cause")),
        checked=_text(summary.get("checked")) or CHECK_NO,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# -- titles


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FREE_TEXT = re.compile(r"[\s::]*\{(?:detail|reply)\}")  # what a server or probe said
_GENERIC = {"ja": "メール", "en": "mail"}


def cause_title(code: str, lang: Lang) -> str:
    """A short name for a cause code: a finding code, or "explained:<cause id>"."""
    if code.startswith(EXPLAINED):
        from bot.explain.catalog import load_catalog

        cause = code.removeprefix(EXPLAINED)
        try:
            label = load_catalog().cause_label(cause, lang)
        except KeyError:
            label = cause
        return message("explained", lang, cause=label)
    entry = catalog("findings").get(code)
    if entry is None:
        return code
    title = entry.get(f"title_{lang}")
    return title if title else _title_from_message(entry[lang], lang)


def _title_from_message(template: str, lang: Lang) -> str:
    """The first sentence of a finding's message, its particulars left out ("…")."""
    text = _FREE_TEXT.sub("", template)
    text = text.replace("{host}:{port}", "{host}").replace("{protocol_label}", _GENERIC[lang])
    text = _PLACEHOLDER.sub("…", text).replace(" ()", "").replace("()", "").strip()
    first = text.split("。", 1)[0] if lang == "ja" else text.split(". ", 1)[0]
    return re.sub(r"[。.::\s]+$", "", first)


# -- output


def output(
    records: Sequence[Record],
    *,
    lang: Lang,
    now: float,
    status: str | None = None,
    days: float | None = None,
    summary: bool = False,
    as_json: bool = False,
    tz: tzinfo | None = None,
) -> str:
    """What `mail-doctor cases` prints: the list, or with `summary` the common causes."""
    if summary:
        since = _since(now, SUMMARY_DAYS if days is None else days)
        counted = [r for r in case_rows(records, status, since) if r.updated <= now]
        found = common_causes(records, since, now, status=status)
        if as_json:
            return summary_json(found, since, now, len(counted), lang)
        return render_summary(found, since, now, len(counted), lang, tz)
    rows = case_rows(records, status, None if days is None else _since(now, days))
    if as_json:
        return rows_json(rows)
    if not rows:
        return message("no_match" if case_rows(records) else "no_cases", lang)
    return render_table(rows, lang, tz)


def retention_note(days: float | None, kept: float, lang: Lang) -> str | None:
    """A warning when the period is longer than the store keeps cases (`kept` seconds)."""
    if days is None or days * DAY <= kept:
        return None
    return message("retention", lang, days=f"{kept / DAY:g}")


def rows_json(rows: Sequence[CaseRow]) -> str:
    return json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=2)


def render_table(rows: Sequence[CaseRow], lang: Lang, tz: tzinfo | None = None) -> str:
    """An aligned text table; times in local time (or `tz`) as "2026-11-29 10:04"."""
    body = [
        (
            r.case_id,
            r.status,
            r.platform,
            r.where,
            local_time(r.opened, tz),
            local_time(r.updated, tz),
            r.step,
            r.symptom or "-",
            r.domain or "-",
            r.app or "-",
            r.likely_cause or "-",
            r.checked,
        )
        for r in rows
    ]
    return _table(_LIST_HEADERS[lang], body)


def summary_json(
    found: Sequence[tuple[str, int]], since: float, until: float, cases: int, lang: Lang
) -> str:
    document = {
        "since": iso_utc(since),
        "until": iso_utc(until),
        "causes": [
            {"code": code, "title": cause_title(code, lang), "count": count}
            for code, count in found
        ],
        "cases": cases,
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def render_summary(
    found: Sequence[tuple[str, int]],
    since: float,
    until: float,
    cases: int,
    lang: Lang,
    tz: tzinfo | None = None,
) -> str:
    period = {"since": local_time(since, tz), "until": local_time(until, tz)}
    if not cases:
        return message("no_period", lang, **period)
    title = message("summary_title", lang, cases=cases, **period)
    if not found:
        return f"{title}\n{message('summary_none', lang)}"
    body = [(str(count), code, cause_title(code, lang)) for code, count in found]
    return f"{title}\n{_table(_SUMMARY_HEADERS[lang], body, right={0})}"


def iso_utc(ts: float) -> str:
    """ISO 8601 in UTC, to the second: "2026-11-29T01:04:00Z"."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local_time(ts: float, tz: tzinfo | None = None) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def _since(now: float, days: float) -> float:
    return max(now - days * DAY, 0.0)  # no earlier than 1970: a huge --since means "all"


def _table(
    header: Sequence[str],
    body: Sequence[Sequence[str]],
    right: set[int] | frozenset[int] = frozenset(),
) -> str:
    rows = [[_cell(c) for c in header], *([_cell(c) for c in row] for row in body)]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            cells.append(pad + cell if i in right else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _cell(value: str) -> str:
    """One line of printable text: a stored value must not break the table."""
    return "".join(ch if ch.isprintable() else " " for ch in value)


def _width(text: str) -> int:
    """Columns on a terminal: East Asian wide characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width
