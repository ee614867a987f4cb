"""What a message means: intent, symptom and FAQ topic, from patterns on the normalised text.

Patterns match the compact form (no spaces) for Japanese and the spaced form for English. The
order of the checks is the order of precedence: commands first (a person who types 「最初から」
means it whatever step they are on), then questions, problems, answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conversations.understanding.entities import Entities, extract
from conversations.understanding.normalize import compact, normalize
from conversations.understanding.redact import redact

INTENTS = (
    "report_problem", "ask_question", "affirm", "deny", "dont_know", "provide_info", "restart",
    "back", "escalate", "stop", "greet", "thanks", "switch_language", "help",
)  # fmt: skip


def _re(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts))


# -- commands ------------------------------------------------------------------------------
_RESTART = _re(
    r"最初から|はじめから|始めから|初めから|やり直|やりなお|振り出し|頭から|一から|いちから|リセット|"
    r"新しく(診断|相談|始)|別の(件|相談|問題)|最初の質問から|"
    r"reset|restart|start (over|again|fresh|from)|from (the )?(start|beginning|scratch)|redo (everything|it all|all)|"
    r"new (session|case|chat|conversation|problem)|begin again|all over again"
)
_BACK = _re(
    r"戻る|戻って|戻して|戻れ|戻りた|もどる|もどって|もどして|前の(項目|質問|段階|ステップ|やつ|ところ|画面|選択)|"
    r"ひとつ前|一つ前|1つ前|取り消|とりけし|さっきの(選択肢|質問|答え)|答え(を)?間違え|"
    r"(?<![a-z])back(?![a-z])|previous (question|step|one)|undo|wrong answer|redo the last|last (question|step|one) again|"
    r"change my (last )?answer|the last one"
)
_ESCALATE = _re(
    r"担当|人と話|人間|人に(代|かわ|相談|聞)|(だれ|誰)か(に|と)(相談|話|聞)|直接.*(相談|話)|オペレーター|ｵﾍﾟﾚｰﾀｰ|"
    r"サポート(に|の人|窓口|センター|へ|と)|窓口|電話(し|で)|有人|スタッフ|係の人|詳しい人|管理者(に|と)|"
    r"human|(?<![a-z])agent|operator|real person|someone (real|who)|talk to (a |an |someone|somebody|support|it)|"
    r"speak (to|with)|support (team|staff|desk|person)|it support|helpdesk|help desk|escalate|a person"
)
_STOP = _re(
    r"終了|終わり|終わら|終わりま|終わる|おわり|おわる|キャンセル|やめ|止めて|中止|中断|打ち切|もう結構|結構です|"
    r"閉じ|とじて|また後で|またあとで|また今度|今はいい|ここまで|"
    r"(?<![a-z])(stop|cancel|quit|exit|bye|goodbye)(?![a-z])|i'?m done|that'?s (enough|all)|enough for (today|now)|"
    r"close (this|the chat)|never ?mind|forget it|end (this|the chat|the session)"
)
_HELP = _re(
    r"ヘルプ|使い方|つかいかた|何ができ|なにができ|何を(入力|すれば|聞け|書け|送れば)|なにを(入力|すれば)|どんな(こと|質問)|"
    r"説明書|マニュアル|手伝って(くれ|もら)|何をしてくれ|このチャット|このボット|このbot|あなたは(何|誰|だれ)|^\?$|^？$|"
    r"(?<![a-z])help(?![a-z])|what can you|how (do i use|does this work)|instructions|what are you|who are you|"
    r"manual|usage|what (do|should) i (type|say|write)"
)
_LANG_EN = _re(r"英語|english|eng(?![a-z])|^en$")
_LANG_JA = _re(r"日本語|japanese|nihongo|にほんご|^ja$")
_LANG_ASK = _re(
    r"(英語|日本語|english|japanese)(で|に|表示|のほう|の方|が|版|モード|mode|please|pls|plz|でお願い|で頼|にして|に切り?替|に変え|に戻)|"
    r"(switch|change|reply|answer|speak|talk|write|respond)( to| in)? (english|japanese)|in (english|japanese)"
)

# -- questions ------------------------------------------------------------------------------
_QUESTION = _re(
    r"って何|ってなに|ってなん|とは[?？]?$|とは何|とはなん|なんですか|何ですか|なに[?？]|何[?？]|"
    r"違い|ちがい|どっち|どちら|どれ|どう違|どうすれば|どうやって|どこ|なぜ|なんで|意味|教えて|"
    r"知りたい|ですか[?？]?$|ますか[?？]?$|でしょうか|の[?？]$|[?？]$|"
    r"what|which|why|how |how$|where|difference|explain|meaning|does .* mean|is it safe|should i"
)

# FAQ topics: (topic, pattern) — most specific first.
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "imap_vs_pop3",
        _re(
            r"(imap.*pop|pop.*imap).*(違|ちが|どっち|どちら|differ|vs|or|which|比べ)|(違|differ).*(imap.*pop|pop.*imap)"
        ),
    ),
    ("port_465_vs_587", _re(r"(465.*587|587.*465)")),
    (
        "op25b",
        _re(
            r"op25b|outboundport25|25番.*(ブロック|止め|塞|使えな|規制)|port ?25.*(block|isp|provider)|(isp|プロバイダ|provider|回線).*25|25.*(ブロック|規制|block)"
        ),
    ),
    (
        "port_25",
        _re(r"(ポート|port|ﾎﾟｰﾄ)?25(番|ばん)?(ポート)?(は|って|を|で|じゃ|is|$)|port ?25|25番"),
    ),
    (
        "app_password",
        _re(
            r"アプリパスワード|アプリ用パスワード|アプリケーション固有|appパスワード|app ?password|application.?specific|2段階|二段階|2-?step|2fa"
        ),
    ),
    (
        "oauth",
        _re(
            r"oauth|オーオース|モダン認証|先進認証|modern auth|ブラウザでサインイン|sign in (with|through) (the )?browser"
        ),
    ),
    (
        "password_safety",
        _re(
            r"パスワード.*(教え|聞|安全|送|言わ|伝え|大丈夫|渡)|(share|give|tell|send).*password|password.*(safe|ask|share)|why.*password"
        ),
    ),
    ("starttls", _re(r"starttls|start tls|スタートtls")),
    ("ssl_tls", _re(r"ssl|tls|暗号化|encrypt")),
    ("dns_mx", _re(r"dns|mx|ネームサーバ|name server|ドメイン.*(設定|レコード)")),
    (
        "router_restart",
        _re(
            r"ルーター|ルータ|router|モデム|modem|再起動.*(wifi|wi-fi|ネット)|wi-?fi.*(再起動|restart)"
        ),
    ),
    (
        "network_reset",
        _re(
            r"ネットワーク.*(リセット|初期化|設定.*リセット)|network (settings )?reset|reset.*network"
        ),
    ),
    (
        "where_settings",
        _re(
            r"(設定|サーバー?名?|server|settings).*(どこ|見つ|確認方法|調べ|find|where|check)|(どこ|where).*(設定|server|settings)"
        ),
    ),
    ("ports", _re(r"ポート|ﾎﾟｰﾄ|port|番号|\b(465|587|993|995|143|110)\b")),
    ("smtp", _re(r"smtp|送信サーバ|outgoing server")),
    ("imap", _re(r"imap")),
    ("pop3", _re(r"pop3?|ポップ")),
    (
        "how_mail_works",
        _re(
            r"仕組み|しくみ|流れ|届く(まで|仕組)|how (does )?(e-?)?mail work|how mail (gets|travels|is delivered)"
        ),
    ),
)

# -- problems -----------------------------------------------------------------------------
_SEND_PROBLEM = _re(
    r"出せな|出せま?せん|出せなく|送信しようと|送ろうと|送信ボタン|送信時|送るときに?エラー|"
    r"won'?t go out|not going out|doesn'?t go out|don'?t go out|stuck (in|on) (the )?(outbox|sending)|bounced? back|"
    r"相手に(届|とど)かな|相手に(届|とど)いてな|送った(メール|めーる)?が.*(届|とど)かな|送信した(メール)?が.*(届|とど)かな|"
    r"(mail|e-?mail|messages?) i send (doesn'?t|don'?t|isn'?t|aren'?t|never)|doesn'?t reach them|don'?t reach them|"
    r"送れな|おくれな|送れま?せん|送信でき|送信エラー|送信に失敗|送信失敗|送信が|送信済みにならな|送信トレイ|"
    r"送れなく|送れん|送れへん|送信されな|送ろうとすると|送るとエラー|返信でき|"
    r"can'?t send|cannot send|unable to send|couldn'?t send|won'?t send|not sending|fails? to send|"
    r"send(ing)? (fails|failed|error)|outbox|outgoing.*(fail|error)|stuck in outbox"
)
_RECEIVE_PROBLEM = _re(
    r"入ってこな|入って来な|入らな|受信ボックス.*(空|何も)|受信トレイ.*(空|何も)|新しいメール.*(来|こ|入)な|"
    r"受信(時|しようと)|更新されな|"
    r"自分宛て?の?(メール|めーる)?.*(届|とど)かな|私宛て?の?(メール)?.*(届|とど)かな|こちらに(届|とど)かな|"
    r"to me (doesn'?t|don'?t|isn'?t|aren'?t|never) (arrive|come|get)|(mail|e-?mail) (for|to) me .*(arriv|com)|"
    r"受信でき|受け取れな|受信エラー|受信に失敗|受信されな|受信しな|受信が|新着(が|メール)?(来|こ)な|"
    r"メール(が)?(来|こ)な|来なくな|こなくな|(届|とど)いてな|読めな|受信トレイ.*(空|来な)|受け取れま?せん|"
    r"can'?t receive|cannot receive|unable to receive|not receiving|no (new )?(e-?)?mails?|"
    r"(e-?)?mails? (isn'?t|aren'?t|is not|are not|not) coming|inbox.*(empty|not updat)|"
    r"can'?t get (my )?(e-?)?mail|stopped (getting|receiving)|don'?t get (any )?(e-?)?mail"
)
_BOTH_PROBLEM = _re(
    r"送受信|送信も受信も|受信も送信も|送るのも受け取るのも|両方|both|send (or|and|nor) receive|sending (or|and) receiving"
)
_AMBIGUOUS_PROBLEM = _re(
    r"届かな|とどかな|届きま?せん|届いてな|届か|不達|戻ってく|返ってく|エラー|おかしい|使えな|つながらな|繋がらな|"
    r"できな|出来な|ダメ|だめ|動かな|壊れ|困って|トラブル|問題|不具合|"
    r"not (being )?delivered|doesn'?t arrive|don'?t arrive|isn'?t arriving|bounce|error|problem|broken|"
    r"not working|doesn'?t work|trouble|issue|help me|can'?t connect"
)
_MAIL_WORD = _re(r"メール|めーる|ﾒｰﾙ|mail|gmail|outlook|smtp|imap|pop|送信|受信")

# -- answers ------------------------------------------------------------------------------
_AFFIRM = _re(
    r"^(はい|ハイ|うん|ええ|そう(です|だよ|だね|です!|)$|そうそう|その通り|そのとおり|はーい|おk|ok|okay|おけ|おっけー|オッケー|オーケー|"
    r"了解|りょうかい|もちろん|yes|yeah|yep|yup|sure|correct|right|affirmative|y$|"
    r"開ける|開けます|開けた|見れる|見られる|見れます|大丈夫|だいじょうぶ|問題ない|問題なし|つながる|繋がる|つながってる|"
    r"works|it works|working|fixed|solved|resolved|that did it|all good|perfect|great|it worked)"
)
_AFFIRM_ANYWHERE = _re(
    r"ようになった|ようになりました|うまくいった|うまくいきました|上手くいった|上手くいきました|解決しました|解決した|"
    r"直りました|なおりました|直った|なおった|治った|使えました|使えた|できました|できた[!!。]?$|できたよ|出来ました|"
    r"送れました|送れた|届きました|届いた|受信できた|開けました|つながりました|繋がりました|"
    r"(は|も)問題ない|(は|も)大丈夫|普通に(見|使|開|つなが)|"
    r"works now|working now|it worked|fixed it|that fixed|problem solved|all working|went through|"
    r"(is|are) (fine|ok|okay|working)"
)
_DENY = _re(
    r"^(いいえ|いえ|ううん|ちがう|違う|違います|いや(?!.*(の方|のほう|ありがた|助か)))|そうじゃな|そうではな|"
    r"だめ|ダメ|駄目|まだ(です|無理|だめ|ダメ|でき|送れ|受信|届)|直らな|なおらな|治らな|変わらな|かわらな|変わりま?せん|"
    r"うまくいか|上手くいか|うまくいきま?せん|失敗|同じエラー|相変わらず|変化な|無理|むり|"
    r"開けな|開かな|見れな|見られな|表示されな|真っ白|つながらな|繋がらな|つながってな|繋がってな|オフライン|圏外|"
    r"^(no|nope|nah|negative|n)(?![a-z])|not really|still (not|no|can'?t|failing|broken|the same|getting)|"
    r"doesn'?t work|didn'?t (work|help)|not working|no luck|same (error|problem|thing)|no change|"
    r"can'?t (open|load)|won'?t load|nothing loads|offline"
)
_DONT_KNOW = _re(
    r"わからな|分からな|わかんな|分かんな|わかりま?せん|分かりま?せん|わかりかね|知らな|しらな|存じ|不明|さあ|さぁ|"
    r"覚えてな|おぼえてな|判断でき|見当|さっぱり|どこで見|どこにある|見方がわから|見つからな|見つけられ|確認できな|"
    r"don'?t know|dont know|no idea|not sure|dunno|idk|unsure|no clue|can'?t find|not know|can'?t tell|"
    r"haven'?t a clue|beats me|i forget|don'?t remember"
)
_GREET = _re(
    r"^(こんにちは|こんにちわ|こんばんは|こんばんわ|おはよう|はじめまして|初めまして|よろしく|お世話になって|お疲れ様|おつかれ|"
    r"夜分|朝早く|遅くに|やっほ|ちーっす|ちっす|どうも|もしもし|やあ|"
    r"hello|hi|hey|yo|hiya|good (morning|afternoon|evening)|howdy|greetings)"
)
_THANKS = _re(
    r"ありがと|有難|有り難|ありがたい|感謝|助かり|助かった|助かる|サンキュ|お礼|恩に着|"
    r"thank|thx|(?<![a-z])ty(?![a-z])|cheers|appreciate|lifesaver|grateful|you'?re the best"
)
_CORRECTION = _re(
    r"^(いや|いえ|違う|ちがう|訂正|間違え|まちがえ|じゃなくて|ではなく)|の方で?す?$|のほうで?す?$|actually|correction|i meant|sorry,? (it'?s|i)|not .* but|instead"
)


@dataclass
class Understanding:
    intent: str
    symptom: str | None = None
    topic: str | None = None
    entities: Entities = field(default_factory=Entities)
    password_pasted: bool = False
    redacted_text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "symptom": self.symptom,
            "topic": self.topic,
            "entities": self.entities.to_json(),
            "password_pasted": self.password_pasted,
        }


def symptom_of(text: str) -> str | None:
    send = bool(_SEND_PROBLEM.search(text))
    receive = bool(_RECEIVE_PROBLEM.search(text))
    if _BOTH_PROBLEM.search(text) or (send and receive):
        return "both"
    if send:
        return "send"
    if receive:
        return "receive"
    # A correction or answer that names a side without a problem word: 「受信の方です」.
    if re.search(
        r"^(いや|いえ|違う)?.{0,4}(送信|送る|sending|outgoing)(の方|のほう|です|側)", text
    ):
        return "send"
    if re.search(
        r"^(いや|いえ|違う)?.{0,4}(受信|受け取|receiving|incoming)(の方|のほう|です|側)", text
    ):
        return "receive"
    return None


def topic_of(text: str) -> str | None:
    for topic, pattern in _TOPICS:
        if pattern.search(text):
            return topic
    return None


def understand(text: str, step: str | None = None) -> Understanding:
    """Understand one message; `step` is the question the bot asked last, if any."""
    redacted, pasted = redact(text)
    squeezed = compact(redacted)
    spaced = normalize(redacted)
    entities = extract(redacted)
    result = Understanding(
        "provide_info", entities=entities, password_pasted=pasted, redacted_text=redacted
    )
    result.intent = _intent(squeezed, spaced, entities, step, result)
    return result


_SIDE_BOTH = _re(r"両方|りょうほう|どっちも|どちらも|全部|送受信|both|either way|all of it")
_SIDE_SEND = _re(r"送信|送る|送り|送れ|出す|出せ|sending|outgoing|(?<![a-z])send")
_SIDE_RECEIVE = _re(r"受信|受け取|受取|もらう|貰う|来る|来ない|届く|receiv|incoming|inbox|getting")


def side_of(text: str) -> str | None:
    """Which side an answer to "sending or receiving?" names, without a problem word."""
    if _SIDE_BOTH.search(text):
        return "both"
    send, receive = bool(_SIDE_SEND.search(text)), bool(_SIDE_RECEIVE.search(text))
    if send and receive:
        return "both"
    return "send" if send else "receive" if receive else None


def _intent(
    squeezed: str, spaced: str, entities: Entities, step: str | None, out: Understanding
) -> str:
    def hit(pattern: re.Pattern[str]) -> bool:
        return bool(pattern.search(squeezed) or pattern.search(spaced))

    if not squeezed:
        return "dont_know"
    size = len(squeezed)
    symptom = symptom_of(squeezed) or symptom_of(spaced)
    out.symptom = symptom
    topic = topic_of(squeezed) or topic_of(spaced)
    asking = hit(_QUESTION)
    names_server = bool(entities.address or entities.host)

    # Commands: a short message that says so means it, whatever the step.
    if size <= 60 and hit(_LANG_ASK) and not names_server:
        return "switch_language"
    if size <= 40 and hit(_ESCALATE) and not names_server:
        return "escalate"
    if size <= 30 and hit(_RESTART) and not names_server:
        return "restart"
    if size <= 30 and hit(_BACK) and not names_server and not symptom:
        return "back"
    if size <= 30 and hit(_STOP) and not symptom and not names_server:
        return "stop"
    if size <= 30 and (hit(_LANG_EN) or hit(_LANG_JA)) and not symptom and not names_server:
        return "switch_language"
    if asking and topic and not names_server and not hit(_AFFIRM_ANYWHERE):
        out.topic, out.symptom = topic, None
        return "ask_question"
    if hit(_CORRECTION) and (symptom or entities.any()):
        return "provide_info"
    if step in ("ask_resolved", "ask_connectivity", "diagnosis"):
        # The question was "did it work?" / "can you open web sites?": an answer, not a report.
        if hit(_DENY) or (symptom and not hit(_AFFIRM_ANYWHERE)):
            return "deny"
        if hit(_AFFIRM_ANYWHERE) or hit(_AFFIRM):
            return "affirm"
    if step is not None and hit(_DONT_KNOW) and not entities.any():
        return "dont_know"
    if size <= 30 and hit(_HELP) and not symptom:
        return "help"
    if hit(_THANKS) and not symptom:
        return "thanks"
    if step == "ask_symptom" and not symptom:
        side = side_of(squeezed) or side_of(spaced)
        if side:
            out.symptom = side
            return "provide_info"
    if symptom:
        return "report_problem"
    if out.password_pasted or entities.address or entities.has_settings():
        return "provide_info"
    if entities.domain and step == "ask_address":
        return "provide_info"
    if entities.app and (step == "ask_client" or size <= 30):
        return "provide_info"
    if entities.error_codes:
        out.symptom = (
            "send" if any("." in c or c[:1] in "45" for c in entities.error_codes) else None
        )
        return "report_problem"
    if hit(_DONT_KNOW):
        return "dont_know"
    if hit(_AFFIRM_ANYWHERE):
        return "affirm"
    if hit(_DENY):
        return "deny"
    if hit(_AFFIRM):
        return "affirm"
    if hit(_GREET):
        return "greet"
    if hit(_AMBIGUOUS_PROBLEM) and hit(_MAIL_WORD):
        return "report_problem"
    if asking and hit(_MAIL_WORD):
        out.topic = "how_mail_works"
        return "ask_question"
    if entities.domain:
        return "provide_info"
    if hit(_AMBIGUOUS_PROBLEM):
        return "report_problem"
    return "provide_info" if step in ("ask_address", "ask_settings") else "dont_know"
