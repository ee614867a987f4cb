"""The words behind each intent, symptom and FAQ topic, as patterns on normalised text.

Patterns are matched against two forms of a message: compact (NFKC, lower case, no spaces — for
Japanese, which has none) and spaced (for English). They are written from how people talk about
mail trouble and checked against the dev utterance sets; the test set only measures them.
"""

from __future__ import annotations

import re

# How far apart two words of one pattern may be: ".*" below means ".{0,GAP}". The longest
# utterance in the data sets is under 100 characters, so no utterance loses a match, while an
# unbounded ".*" made a 100 kB paste with a pattern's words repeated in it take seconds (each
# occurrence scans the rest of the text, and a second ".*" scans it again: cubic time).
GAP = 100


def _re(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts).replace(".*", f".{{0,{GAP}}}"))


# -- commands ---------------------------------------------------------------------------------
RESTART = _re(
    r"最初から|はじめから|始めから|初めから|さいしょから|最初に|最初の(画面|質問|ところ)|やり直|やりなお|振り出し|頭から|一から|いちから",
    r"リセット|リスタート|スタートに戻|巻き戻|クリアして|新規|新しく(診断|相談|始)|別の(件|相談|問題)",
    r"reset|restart|start (over|again|fresh|from)|from (the )?(start|beginning|scratch)|redo (everything|it all|all)",
    r"new (session|case|chat|conversation|problem)|begin again|all over again",
)
BACK_STRONG = _re(
    r"さっきの|前の(項目|質問|設問|段階|ステップ|やつ|ところ|とこ|画面|選択)|ひとつ前|一つ前|1つ前|バック$",
    r"previous|last one|step back",
)
BACK = _re(
    r"戻る|戻って|戻して|戻れ|戻りた|もどる|もどって|もどして|取り消|とりけし|答え(を)?間違え|^バック",
    r"(?<![a-z])back(?![a-z])|undo|wrong answer|redo the last|last (question|step) again|change my (last )?answer",
)
ESCALATE = _re(
    r"担当|人と話|人間|人に(代|かわ|相談|聞)|(だれ|誰)か(に|と)(相談|話|聞)|直接.*(相談|話)|オペレーター",
    r"(わかる|分かる|詳しい|くわしい|本物の)人|人(を)?出して|人いない|繋いで|つないで|情シス|情報システム",
    r"サポート(に|の人|窓口|センター|へ|と)|窓口|電話(し|で)|有人|スタッフ|係の人|管理者(に|と)",
    r"human|(?<![a-z])agent|operator|real person|actual person|someone (real|who|from|at|in)|get me someone",
    r"talk to (a |an |someone|somebody|support|it)|speak (to|with)|support (team|staff|desk|person)|it support",
    r"helpdesk|help desk|escalate|a person|connect me|phone number",
)
STOP = _re(
    r"終了|終わり|終わら|終わりま|終わる|おわり|おわる|キャンセル|やめ|止めて|中止|中断|打ち切|もう結構|結構です",
    r"閉じ|とじて|また後で|またあとで|また今度|今はいい|ここまで|もういいや|もうええ|おしまい|抜けます|自分で調べ",
    r"失礼します|このへんに|この辺で|ここらで",
    r"(?<![a-z])(stop|cancel|quit|exit|bye|goodbye)(?![a-z])|i'?m done|that'?s (enough|all)|enough for (today|now)",
    r"close (this|the chat)|never ?mind|forget it|end (this|the chat|the session)|leave it|call it a day",
)
HELP = _re(
    r"ヘルプ|使い方|つかいかた|何ができ|なにができ|何を(入力|すれば|聞け|書け|送れば)|なにを(入力|すれば)|どんな(こと|質問)",
    r"何(を)?聞け|なに聞け|どうやって使|何してくれ|なにしてくれ|何をしてくれ|コマンド|どう進め|進め方|打てる言葉|使える言葉",
    r"説明書|マニュアル|手伝って(くれ|もら)|このチャット|このボット|このbot|あなたは(何|誰|だれ)|^\?$",
    r"(?<![a-z])help(?![a-z])|hlep|what can (you|this|the)|(this|the) bot do|how (do i use|does this work)",
    r"instructions|what are you|who are you|manual|usage|what (do|should) i (type|say|write)",
    r"what (kind|sort) of (stuff|things|questions)|can i ask|how (do|should) i (use|start)|commands?\??$",
)
LANG_EN = _re(r"英語|えいご|エイゴ|english|eng(?![a-z])|^en$")
LANG_JA = _re(r"日本語|japanese|nihongo|にほんご|^ja$")
LANG_ASK = _re(
    r"(英語|えいご|エイゴ|日本語|english|japanese)(で|に|表示|のほう|の方|が|版|モード|mode|please|pls|plz|にして|に切り?替|に変え|に戻)",
    r"(switch|change|reply|answer|speak|talk|write|respond)( to| in)? (english|japanese)|in (english|japanese)",
    r"(change|switch|set) (the )?language|言語",
)

# An explicit "what is …?" — a question even when the message also says "I don't know".
QUESTION_TOPICAL = _re(r"って何|ってなに|とは[?？]?$|とは何|what is|what'?s (a|an|the) ")

# -- questions ------------------------------------------------------------------------------
QUESTION = _re(
    r"って何|ってなに|ってなん|とは[?？]?$|とは何|とはなん|なんですか|何ですか|なに[?？]|何[?？]|本当|ほんと",
    r"違い|ちがい|どっち|どちら|どれ|どう違|どうすれば|どうやって|どこ|なぜ|なんで|意味|教えて",
    r"知りたい|ですか[?？]?$|ますか[?？]?$|でしょうか|の[?？]$|[?？]|違う|かな$|かな[?？]",
    r"what|which|why|how |how$|where|difference|explain|meaning|does .* mean|is it safe|should i",
)

# FAQ topics, most specific first.
# fmt: off
TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("how_mail_works", _re(
        r"送信サーバ.*受信サーバ|受信サーバ.*送信サーバ|what happens (after|when) i (press|hit|click) send",
        r"(sending and receiving|send and receive).*(separate|different)|(separate|different).*(sending|receiving)",
    )),
    ("imap_vs_pop3", _re(r"imap.*pop|pop.*imap")),
    ("port_465_vs_587", _re(r"465.*587|587.*465")),
    ("op25b", _re(
        r"op25b|outboundport25|25番.*(ブロック|止め|塞|使えな|規制)|port ?25.*(block|isp|provider)",
        r"(isp|provider).*block.*25|block.*port ?25|(isp|プロバイダ|provider|回線)(が|で|は|に).*25|25.*(ブロック|規制|block)",
    )),
    ("port_25", _re(r"(ポート|port)?25(番|ばん)?(ポート)?(は|って|を|で|じゃ|に|is|$)|port ?25|25番")),
    ("app_password", _re(
        r"専用パスワード|imapパスワード|アプリパスワード|アプリ用パスワード|アプリケーション固有|appパスワード",
        r"app ?password|application.?specific|2段階|二段階|2-?step|2fa",
    )),
    ("password_safety", _re(
        r"パスワード.*(教え|聞|安全|送|言わ|伝え|大丈夫|渡|平気|打ち込|入力して|書いて)|(share|give|tell|send).*password",
        r"password.*(safe|ask|share)|why.*password|(store|keep|save) my|(safe|安全|大丈夫|平気|危な).*(type|入力|教え|送|書|share)",
        r"(type|入力|教え|送|書).*(safe|安全|危な)|個人情報|privacy|プライバシー|ログ(が)?(残|保存)|見られ(な|る)",
        r"パスワード.*(書い|送っ|貼っ|入れ).*(大丈夫|平気|まず)|asking for my (mail |e-?mail )?password|legit|phishing|フィッシング|詐欺",
    )),
    ("oauth", _re(
        r"microsoft.*(変わ|変更)|2024年9月|september 2024|(普通|通常|いつも)の?パスワード.*(使えな|通らな|だめ|ダメ)",
        r"oauth|オーオース|モダン認証|先進認証|modern auth|ブラウザでサインイン|sign in (with|through) (the )?browser",
    )),
    ("starttls", _re(r"starttls|start tls|スタートtls")),
    ("ssl_tls", _re(r"ssl|tls|暗号化|encrypt")),
    ("dns_mx", _re(r"dns|(?<![a-z])mx|ネームサーバ|name server|ドメイン.*(設定|レコード)")),
    ("network_reset", _re(r"ネットワーク.*(リセット|初期化|設定.*リセット)|network (settings )?reset|reset.*network")),
    ("router_restart", _re(r"ルーター|ルータ|router|モデム|modem|再起動.*(wifi|wi-fi|ネット)|wi-?fi.*(再起動|restart)")),
    ("where_settings", _re(
        r"(設定|サーバー?名?|server|settings).*(どこ|見つ|確認方法|調べ|find|where|check)|(どこ|where).*(設定|server|settings)",
    )),
    ("ports", _re(r"ポート|port|番号|\b(465|587|993|995|143|110)\b")),
    ("smtp", _re(r"smtp|送信サーバ|outgoing (mail )?server")),
    ("imap", _re(r"imap")),
    ("pop3", _re(r"pop3?|ポップ|コピーを(置|残)|leave a copy|keep (a )?cop(y|ies) on (the )?server")),
    ("how_mail_works", _re(r"仕組み|しくみ|流れ|届く(まで|仕組)|how (does )?(e-?)?mail work|how mail (gets|travels|is delivered)")),
)
# fmt: on

# -- problems ---------------------------------------------------------------------------------
SEND_PROBLEM = _re(
    r"送れな|おくれな|送れま?せん|送れなく|送れん|送れへん|送信できな|送信できま?せん|送信出来な|送信エラー|送信に失敗|送信失敗",
    r"送信済みにならな|送信トレイ|送信されな|送ろうと|送るとエラー|送るときに?エラー|返信でき(な|ま?せん)|出せな|出せま?せん",
    r"送信しようと|送信ボタン|送信時|戻ってくる|戻って来る|戻ってきた|返ってくる|返ってきた|跳ね返|送信ができな|送信が出来な|送信サーバ.*(オフライン|エラー|つながらな|繋がらな|接続でき)",
    r"相手(から|に|が|の方).*(届|とど)|送った(メール|めーる)?が.*(届|とど)かな|送信した(メール)?が.*(届|とど)かな",
    r"can'?t send|cannot send|unable to send|couldn'?t send|won'?t send|not sending|fails? to send|failed to send",
    r"send(ing)? (fails|failed|error)|sending (of )?(the )?message failed|outbox|outgoing.*(fail|error)|when i (try to )?send",
    r"when i hit send|send from|won'?t go out|not going out|doesn'?t go out|don'?t go out|bounc",
    r"(mail|e-?mail|messages?) i send (doesn'?t|don'?t|isn'?t|aren'?t|never)|doesn'?t reach them|don'?t reach them",
    r"送信済み.*(ならな|移らな|入らな)|送信中|下書きに戻|返信(しようと|でき|するとエラー|すると)|転送(でき|ボタン|しようと|すると)|一斉送信",
    r"送信(だけ|が|の方|のほう).*(エラー|失敗|だめ|ダメ|止ま)|送信.*(エラー|失敗)|送信.*認証|smtp認証|そうしん(でき|出来)",
    r"(届いてな|着いてな|届いていな)(い)?(らしい|と言われ|って言われ|みたい|そう)|着いてない|送った.*(届|着)(いてな|かな)",
    r"sent items|sitting in (my )?sent|never got my (e-?)?mail|comes? back|undelivered|delivery failed|mail delivery|rejected",
    r"outgoing (mail )?server|smtp server|can'?t reply|reply to|forwarding|stopped sending|newsletter",
)
RECEIVE_PROBLEM = _re(
    r"受信できな|受信できま?せん|受信出来な|受診でき|受け取れな|受け取れま?せん|受信エラー|受信に失敗|受信されな|受信しな",
    r"新着(が|メール)?(来|こ)な|メール(が)?(来|こ)な|来なくな|こなくな|読めな|受信トレイ.*(空|来な|何も)|受信ボックス.*(空|何も)",
    r"受信ができな|受信が出来な|受信が(途中で)?止ま|入ってこな|入って来な|入らな|新しいメール.*(来|こ|入)な|受信(時|しようと)|更新されな|(受信|受け取り)だけ",
    r"自分宛て?の?(メール|めーる)?.*(届|とど)かな|私宛て?の?(メール)?.*(届|とど)かな|こちらに(届|とど)かな",
    r"can'?t receive|cannot receive|unable to receive|not receiving|no (new )?(e-?)?mails?|inbox.*(empty|not updat)",
    r"(e-?)?mails? (isn'?t|aren'?t|is not|are not|not) coming|can'?t get (my |new )?(e-?)?mail|cannot get (new )?mail",
    r"stopped (getting|receiving)|don'?t get (any )?(e-?)?mail|to me (doesn'?t|don'?t|isn'?t|aren'?t|never) (arrive|come|get)",
    r"(mail|e-?mail) (for|to) me .*(arriv|com)",
    r"取得でき|同期(されな|しな|でき)|ダウンロード(されな|でき|しな)|読み込(まれな|めな|まな)|受信.*(見当たらな|止ま|ずっと)",
    r"新着.*(0|０|ゼロ)件|(来|こ)な(い|く)|入ってもこな|入っても来な|見当たらな|受信箱|受信ボックス",
    r"show up|(inbox|mail) (isn'?t|is not|not) (updating|syncing)|not updating|won'?t sync|sync|fetch|download(ing)? new",
    r"stopped downloading|nothing comes in|comes? in|checking for mail|recieve|never arrive|never get|cannot get mail",
)
BOTH_PROBLEM = _re(
    r"送受信|送信も受信も|受信も送信も|送るのも受け|受けるのも送|両方|both|send (or|and|nor) receive",
    r"sending (or|and|nor) receiving|neither incoming nor outgoing|incoming (and|or|nor) outgoing",
    r"(送れ|出せ)ないし.*(来|こ|入|受)|(来|こ|入)(ない|ん)し.*(送|出)|送るのも見るのも|全部だめ|全部ダメ",
    r"in or out|send or (fetch|receive|get)|send/receive|nothing in or out|completely dead",
)
AMBIGUOUS_PROBLEM = _re(
    r"届かな|とどかな|届きま?せん|届いてな|届か|不達|エラー|おかしい|使えな|つながらな|繋がらな|できな|出来な|できませ|出来ませ",
    r"失敗|ダメ|だめ|動かな|壊れ|困って|トラブル|問題|不具合|検証でき|識別情報|証明書|認証(失敗|エラー)|ログインでき|サインインでき",
    r"not (being )?delivered|doesn'?t arrive|don'?t arrive|isn'?t arriving|error|problem|broken|not working|doesn'?t work",
    r"trouble|issue|help me|can'?t connect|stopped working|isn'?t working|fail|couldn'?t sign in|can'?t sign in|certificate",
    r"調子が悪|不調|うまくいかな|上手くいかな|様子がおかし|パスワード.*(聞かれ|求められ|要求され)|接続に失敗",
    r"something'?s wrong|wrong with|acting up|keeps asking|asking for my (e-?mail )?password",
)
# 「相手に届かない」: the trouble is on the way to the recipient, not in the person's app.
RECIPIENT_SIDE = _re(
    r"相手(に|から|が|の方|側).*(届|とど|着)|送った.*(届|着)(いてな|かな)|(届いてな|着いてな)(い)?(らしい|と言われ|って言われ)",
    r"戻ってくる|戻って来る|戻ってきた|返ってくる|返ってきた|跳ね返|宛先不明|エラーメール",
    r"bounc|doesn'?t reach them|don'?t reach them|never got my|didn'?t get my|comes? back undelivered|undeliverable",
    r"(mail|e-?mail|messages?) i send (doesn'?t|don'?t|isn'?t|aren'?t|never)",
)
MAIL_WORD = _re(
    r"メール|めーる|mail|gmail|outlook|smtp|imap|pop|送信|受信|サーバ|server|パスワード|password|inbox|受信箱|迷惑"
)

# Which side an answer to "sending or receiving?" names.
SIDE_BOTH = _re(r"両方|りょうほう|どっちも|どちらも|全部|送受信|both|either way|all of it")
SIDE_SEND = _re(r"送信|送る|送り|送れ|出す|出せ|sending|outgoing|(?<![a-z])send")
SIDE_RECEIVE = _re(
    r"受信|受け取|受取|受ける|もらう|貰う|来る|来ない|届く|receiv|incoming|inbox|getting"
)
SIDE_CORRECTION_SEND = re.compile(
    r"^(いや|いえ|違う)?.{0,4}(送信|送る|sending|outgoing)(の方|のほう|です|側)"
)
SIDE_CORRECTION_RECEIVE = re.compile(
    r"^(いや|いえ|違う)?.{0,4}(受信|受け取|receiving|incoming)(の方|のほう|です|側)"
)

# Outlook's error codes that tell the side: SMTP (send) or POP3/IMAP (receive).
SEND_CODES = re.compile(r"0x8004210[9b]|0x800ccc6[0-9a-f]|0x800ccc7[89]|^[245]\d\d|^[45]\.\d")
RECEIVE_CODES = re.compile(r"0x8004210[8a]|0x800ccc9[0-2]|0x800cccd[1df]")

# -- answers ------------------------------------------------------------------------------
AFFIRM = _re(
    r"^(はい|ハイ|うん|うい|ええ|そう(です|だよ|だね|です!|)$|そうそう|その通り|そのとおり|はーい|おk|ok|okay|おけ|おっけー|オッケー|オーケー",
    r"了解|りょうかい|もちろん|yes|yeah|yep|yup|sure|correct|right|affirmative|y$",
    r"開ける|開けます|開けた|見れる|見られる|見れます|大丈夫|だいじょうぶ|問題ない|問題なし|つながる|繋がる|つながってる",
    r"works|it works|working|fixed|solved|resolved|that did it|all good|perfect|great|it worked)",
)
AFFIRM_ANYWHERE = _re(
    r"ようになった|ようになりました|うまくいった|うまくいきました|上手くいった|上手くいきました|解決しました|解決した",
    r"直りました|なおりました|直った|なおった|治った|使えました|使えた|できました|できた[!!。]?$|できたよ|出来ました",
    r"送れました|送れた|届きました|届いた|受信できた|開けました|つながりました|繋がりました",
    r"(は|も)問題ない|(は|も)大丈夫|普通に(見|使|開|つなが)|ちゃんと(届|とど|送|受)|届いてます|見れるよ|見られるよ",
    r"(で|が)?(合って|あって)(ます|る|いる)",
    r"works now|working now|it worked|fixed it|that fixed|problem solved|all working|went through",
    r"(is|are|'s) (fine|ok|okay|working)|that'?s (right|correct)",
)
DENY = _re(
    r"^(いいえ|いえ|ううん|ちゃう|ちゃいます|ちがう|違う|違います|いや(?!.*(の方|のほう|ありがた|助か)))|そうじゃな|そうではな",
    r"だめ|ダメ|駄目|まだ(です|無理|だめ|ダメ|でき|送れ|受信|届)|直らな|なおらな|治らな|変わらな|かわらな|変わりま?せん|変わらず",
    r"うまくいか|上手くいか|うまくいきま?せん|失敗|同じエラー|相変わらず|変化な|無理|むり|じゃな(い|くて)(です|っす|よ)?$",
    r"ではない|じゃありません|開けな|開かな|見れな|見られな|表示されな|真っ白|つながらな|繋がらな|つながってな|繋がってな",
    r"オフライン|圏外",
    r"^(no|nope|nah|negative|n)(?![a-z])|not really|still (not|no|can'?t|failing|broken|the same|getting)",
    r"doesn'?t work|didn'?t (work|help)|not working|no luck|same (error|problem|thing)|no change",
    r"can'?t (open|load)|won'?t load|nothing loads|offline|(that'?s|it'?s) not|not (that|my|the right)",
)
DONT_KNOW = _re(
    r"わからな|分からな|わかんな|分かんな|わかりま?せん|分かりま?せん|わかりかね|知らな|しらな|存じ|不明|さあ|さぁ",
    r"覚えてな|おぼえてな|判断でき|見当|さっぱり|どこで見|どこにある|見方がわから|見つからな|見つけられ",
    r"確認できな|確認できてな|なにそれ|何それ|なんのこと|忘れ(た|ちゃ|まし)",
    r"don'?t know|dont know|no idea|not sure|dunno|idk|unsure|no clue|can'?t find|not know|can'?t tell",
    r"haven'?t a clue|beats me|i forget|don'?t remember|can'?t remember|what'?s that|haven'?t checked",
)
GREET = _re(
    r"^(こんにちは|こんにちわ|こんばんは|こんばんわ|はじめまして|初めまして|よろしく|お世話になって|お疲れ|おつかれ",
    r"夜分|朝早く|遅くに|やっほ|ちーっす|ちっす|どうも|もしもし|やあ|ども$|どもども|こんちは|こんちわ|ハロー|はろー",
    r"お邪魔します|おじゃまします|おはよ",
    r"(hello|hi|hey|yo|hiya|howdy|greetings)(?![a-z])|good (morning|afternoon|evening))",
)
THANKS = _re(
    r"ありがと|アリガト|有難|有り難|ありがたい|感謝|助かり|助かった|助かる|サンキュ|お礼|恩に着|あざす|あざっす|おおきに|ご親切",
    r"thank|thx|(?<![a-z])ty(?![a-z])|tysm|cheers|appreciate|lifesaver|grateful|you'?re the best",
)
CORRECTION = _re(
    r"^(いや|いえ|違う|ちがう|訂正|間違え|まちがえ)|じゃなくて|ではなく|の方で?す?$|のほうで?す?$",
    r"actually|correction|i meant|sorry,? (it'?s|i)|not .* but|instead",
)
