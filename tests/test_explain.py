"""``explain``: codes and messages in pasted text, whole bounces, message headers, the report,
the accuracy helper, and robustness against anything a person (or a broken app) may paste.

All texts here are written for these tests in the shape real apps and servers produce.
"""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path

import pytest

from bot.explain import MAX_INPUT, evaluate, evaluate_cases, explain, render_text
from bot.explain.bounce import parse_bounce
from bot.explain.headers import parse_headers
from bot.explain.matcher import find_codes

# ------------------------------------------------------------------------------- samples

POSTFIX = """\
This is the mail system at host mail.example.jp.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

                   The mail system

<taro@example.com>: host mx.example.com[203.0.113.5] said: 550 5.1.1
    <taro@example.com>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)
"""

RFC3464 = """\
From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)
To: sender@example.jp
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F1A2B3C.1741050000/mail.example.jp"

This is a MIME-encapsulated message.

--4F1A2B3C.1741050000/mail.example.jp
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.jp.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<saburo@example.org>: host mx1.example.org[198.51.100.7] said: 552 5.2.2
    <saburo@example.org>: Mailbox full (in reply to RCPT TO command)

--4F1A2B3C.1741050000/mail.example.jp
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.jp
X-Postfix-Queue-ID: 4F1A2B3C
Arrival-Date: Tue,  4 Mar 2025 10:00:00 +0900 (JST)

Final-Recipient: rfc822; saburo@example.org
Original-Recipient: rfc822;saburo@example.org
Action: failed
Status: 5.2.2
Remote-MTA: dns; mx1.example.org
Diagnostic-Code: smtp; 552 5.2.2 <saburo@example.org>: Mailbox full

Final-Recipient: rfc822; shiro@example.net
Action: delayed
Status: 4.4.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: X-Postfix; connect to mx.example.net[192.0.2.44]:25: Connection
    timed out

--4F1A2B3C.1741050000/mail.example.jp
Content-Description: Undelivered Message
Content-Type: message/rfc822

Received: from pc.example.jp (pc.example.jp [192.0.2.5]) by mail.example.jp (Postfix)
\twith ESMTPSA id 4F1A2B3C; Tue,  4 Mar 2025 10:00:00 +0900 (JST)
From: sender@example.jp
To: saburo@example.org
Subject: test

About the 550 5.7.26 error we talked about yesterday.
--4F1A2B3C.1741050000/mail.example.jp--
"""

EXCHANGE_EN = """\
Delivery has failed to these recipients or groups:

hanako@contoso.example
The email address you entered couldn't be found. Please check the recipient's email address \
and try to resend the message.

Diagnostic information for administrators:

Generating server: TYAPR01MB1234.jpnprd01.prod.outlook.com

hanako@contoso.example
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP \
address lookup'

Original message headers:

From: Ichiro <ichiro@fabrikam.example>
To: hanako@contoso.example
"""

EXCHANGE_JA = """\
次の受信者またはグループへの配信に失敗しました:

hanako@contoso.example
入力したメール アドレスが見つかりませんでした。受信者のメール アドレスを確認してから、\
メッセージを再送信してください。

管理者用の診断情報:

生成サーバー: TYAPR01MB1234.jpnprd01.prod.outlook.com

hanako@contoso.example
リモート サーバーから '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP \
address lookup' が返されました

元のメッセージのヘッダー:

From: 一郎 <ichiro@fabrikam.example>
"""

GMAIL_EN = """\
** Address not found **

Your message wasn't delivered to jiro@example.net because the address couldn't be found, or is \
unable to receive mail.

Learn more here: https://support.google.com/mail/?p=NoSuchUser

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking \
the recipient's email address for typos or unnecessary spaces. d2e1a72fcca58-1234 - gsmtp
"""

GMAIL_JA = """\
** アドレスが見つかりませんでした **

アドレス jiro@example.net が見つからないか、メールを受信できないアドレスであるため、\
メールは配信されませんでした。

リモート サーバーからの応答:

550 5.1.1 The email account that you tried to reach does not exist. - gsmtp
"""

GMAIL_DELAYED = """\
Delivery incomplete

There was a temporary problem delivering your message to hachi@example.com. Gmail will retry for \
47 more hours. You'll be notified if the delivery fails permanently.

The response was:
The recipient server did not accept our requests to connect. [mx.example.com 192.0.2.7: timed out]
"""

EXIM = """\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  shiro@example.com
    host mx.example.com [192.0.2.10]
    SMTP error from remote mail server after RCPT TO:<shiro@example.com>:
    550-5.2.1 The email account that you tried to reach is disabled.
    550 5.2.1 https://support.google.com/mail/?p=DisabledUser - gsmtp
"""

QMAIL = """\
Hi. This is the qmail-send program at mail.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<goro@example.net>:
192.0.2.20 does not like recipient.
Remote host said: 550 5.1.1 <goro@example.net>... User unknown
Giving up on 192.0.2.20.
"""

SENDMAIL = """\
   ----- The following addresses had permanent fatal errors -----
<nana@example.org>
    (reason: 552 5.3.4 Message size exceeds fixed maximum message size)

   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> DATA
<<< 552 5.3.4 Message size exceeds fixed maximum message size
"""

JAPANESE_PROVIDER = """\
このメールは、以下の宛先に配送できませんでした。

宛先: rokuro@example.ne.jp
理由: 宛先不明(ユーザーが存在しません)
"""

HEADERS = """\
Delivered-To: me@gmail.example
Received: by 2002:a05:6000:1234 with SMTP id abc;
        Tue, 4 Mar 2025 01:00:07 -0800 (PST)
ARC-Authentication-Results: i=1; mx.google.com; dkim=pass header.i=@example.jp; spf=pass
Authentication-Results: mx.google.com;
       dkim=pass header.i=@example.jp header.s=sel header.b=abc;
       spf=softfail (google.com: domain of transitioning a@example.jp does not designate \
192.0.2.1 as permitted sender) smtp.mailfrom=a@example.jp;
       dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=example.jp
Received: from mail.example.jp (mail.example.jp. [192.0.2.1])
        by mx.google.com with ESMTPS id x1si123
        for <me@gmail.example>;
        Tue, 04 Mar 2025 01:00:05 -0800 (PST)
Received: from [192.168.1.10] (p123.example.ne.jp [198.51.100.9])
\tby mail.example.jp (Postfix) with ESMTPSA id 1234;
\tTue,  4 Mar 2025 17:59:50 +0900 (JST)
Date: Tue, 4 Mar 2025 17:59:48 +0900
From: A <a@example.jp>
Subject: hello
"""


def iso2022jp_bounce(text: str, dsn: str = "") -> str:
    """A MIME bounce whose human part is ISO-2022-JP in base64, as Japanese servers send."""
    body = base64.encodebytes(text.encode("iso-2022-jp")).decode("ascii")
    parts = [
        "From: MAILER-DAEMON@mx.example.ne.jp\nSubject: Returned mail\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="XYZ"\n\n',
        "--XYZ\nContent-Type: text/plain; charset=ISO-2022-JP\n"
        f"Content-Transfer-Encoding: base64\n\n{body}\n",
    ]
    if dsn:
        parts.append(f"--XYZ\nContent-Type: message/delivery-status\n\n{dsn}\n")
    parts.append("--XYZ--\n")
    return "".join(parts)


# ------------------------------------------------------------------- codes in pasted texts


@pytest.mark.parametrize(
    ("text", "code", "cause"),
    [
        ("送信エラー (0x800CCC0E) が報告されました: サーバーが見つかりません。", "0x800CCC0E",
         "cannot_connect"),
        ("Sending reported error (0x800ccc0f): The connection to the server was interrupted.",
         "0x800CCC0F", "connection_dropped"),
        ("受信 (POP3) エラー: エラー番号: 0x800CCC92", "0x800CCC92", "auth_failed"),
        ("Outlook: 0x8004210B – The operation timed out waiting for a response", "0x8004210B",
         "timeout"),
        ("534-5.7.9 Application-specific password required. Learn more at\n"
         "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp",
         "5.7.9", "app_password_required"),
        ("535-5.7.8 Username and Password not accepted. For more information, go to\n"
         "535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp",
         "5.7.8", "auth_failed"),
        ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
         "Tenant.", "5.7.139", "basic_auth_disabled"),
        ("550 5.7.30 Basic authentication is not supported for Client Submission.", "5.7.30",
         "basic_auth_disabled"),
        ("メールサーバーの応答: 552 5.2.2 Mailbox full", "5.2.2", "mailbox_full"),
        ("550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender "
         "and Gmail users, and has been blocked.", "5.7.26", "dmarc_fail"),
        ("421-4.7.28 Gmail has detected an unusual rate of mail originating from your IP.",
         "4.7.28", "rate_limited"),
        ("550 5.4.5 Daily user sending limit exceeded.", "5.4.5", "quota_sending_limit"),
        ("エラー: 554 5.7.1 <taro@example.com>: Relay access denied", "5.7.1", "relay_denied"),
        ("530 5.7.0 Must issue a STARTTLS command first", "5.7.0", "tls_required"),
        ("サーバーの応答: 530 5.7.0 Authentication Required", "5.7.0", "auth_required"),
        ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
         "5.1.10", "recipient_unknown"),
        ("550 5.1.10 Recipient address has null MX", "5.1.10", "null_mx"),
        ("451 4.7.1 Greylisting in action, please come back later", "4.7.1", "greylisted"),
        ("Error 421 Service not available, closing transmission channel", "421",
         "temporary_failure"),
    ],
)  # fmt: skip
def test_codes_are_found_in_pasted_text(text: str, code: str, cause: str) -> None:
    matches = find_codes(text)
    assert code in [m.code for m in matches]
    assert matches[0].cause_id == cause


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("メールを取得できません\nサーバ\"imap.example.jp\"への接続に失敗しました。",
         "cannot_connect"),
        ("Cannot Get Mail\nThe user name or password for \"imap.example.com\" is incorrect.",
         "auth_failed"),
        ("メールを送信できません\nコピーが送信トレイに置かれました。受信者\"kyu@example.jp\"は"
         "サーバ\"smtp.example.jp\"によって拒否されました。", "relay_denied"),
        ("Sending of the message failed.\nAn error occurred while sending mail. The mail server "
         "responded: 5.7.8 Username and Password not accepted.", "auth_failed"),
        ("ユーザー名またはパスワードが正しくありません", "auth_failed"),
        ("受信者の一部が受信拒否されています。相手の迷惑メール設定で受信リストに登録されていません。",
         "recipient_filter"),
        ("メールを送信できません。\nユーザ名またはパスワードがサーバ\"smtp.gmail.com\"によって"
         "拒否されました。", "auth_failed"),
        ("メールを送信できません。\n送信者アドレス\"a@example.jp\"はサーバによって拒否されました。",
         "sender_rejected"),
        ("Sending of the message failed.\nThe message could not be sent because the Outgoing "
         "server (SMTP) smtp.example.con could not be found.", "server_not_found"),
        ("接続先のサーバーは、検証できないセキュリティ証明書を使っています。\n"
         "対象のプリンシパル名が正しくありません。", "tls_failed"),
        ("Cannot Send Mail\nA copy has been placed in your Outbox. Sending the message content "
         "to the server failed.", "connection_dropped"),
    ],
)  # fmt: skip
def test_app_messages_rank_below_the_detail_next_to_them(text: str, cause: str) -> None:
    assert find_codes(text)[0].cause_id == cause


def test_spans_point_at_the_code_in_the_original_text() -> None:
    text = "エラー(０ｘ８００ＣＣＣ０Ｅ)が出ました。応答: ５５０　５．１．１ User unknown"
    matches = {m.code: m for m in find_codes(text)}
    start, end = matches["0x800CCC0E"].span
    assert text[start:end] == "０ｘ８００ＣＣＣ０Ｅ"
    start, end = matches["5.1.1"].span
    assert text[start:end] == "５．１．１"
    start, end = matches["550"].span
    assert text[start:end] == "５５０"
    start, end = matches["user_unknown_text"].span
    assert text[start:end] == "User unknown"


def test_spans_survive_half_width_kana_before_the_code() -> None:
    text = "ｻｰﾊﾞｰのｴﾗｰ 0x800CCC0D です"
    (match,) = [m for m in find_codes(text) if m.kind == "outlook"]
    assert text[match.span[0] : match.span[1]] == "0x800CCC0D"


def test_versions_addresses_and_ips_are_not_codes() -> None:
    text = "iOS 5.1.1 の iPhone から 10.5.1.1 と 192.4.2.2.1 に接続、Thunderbird 5.0.1、port 587"
    assert find_codes(text) == []


def test_outlook_hex_needs_the_0x_prefix() -> None:
    assert find_codes("error 800CCC0E") == []
    assert find_codes("error 0X800ccc0e")[0].code == "0x800CCC0E"


def test_three_digit_codes_only_where_they_stand_as_replies() -> None:
    assert [m.code for m in find_codes("I have 550 friends and 421 cats")] == []
    assert [m.code for m in find_codes("550 Requested action not taken")] == ["550"]
    assert [m.code for m in find_codes("The server said: error 535")] == ["535"]


def test_enhanced_code_and_server_text_outrank_the_bare_reply() -> None:
    matches = find_codes("550 5.2.2 The email account that you tried to reach is over quota.")
    kinds = [m.kind for m in matches]
    assert kinds.index("smtp") > kinds.index("enhanced")
    assert kinds.index("smtp") > kinds.index("provider_message")
    assert matches[0].cause_id == "mailbox_full"


def test_a_specific_code_outranks_its_family() -> None:
    matches = find_codes("550 5.7.99 Rejected by policy; also 550 5.7.25 reverse DNS failed")
    codes = [m.code for m in matches if m.kind == "enhanced"]
    assert codes.index("5.7.25") < codes.index("5.7.99")
    family = next(m for m in matches if m.code == "5.7.99")
    assert family.entry.code == "5.7.X"


def test_duplicates_collapse_to_the_first_occurrence() -> None:
    text = "550-5.7.26 Unauthenticated email from a.example is not accepted due to\n" * 3
    matches = find_codes(text)
    assert [m.code for m in matches].count("5.7.26") == 1
    assert next(m for m in matches if m.code == "5.7.26").span == (4, 10)


def test_the_same_code_means_what_the_reply_text_says() -> None:
    assert find_codes("550 5.7.27 Sender address has null MX")[0].cause_id == "null_mx"
    spf = find_codes("550-5.7.27 The sender's SPF record did not pass. - gsmtp")
    assert spf[0].cause_id == "spf_fail"
    bare = find_codes("5.7.27")[0]
    assert bare.cause_id == "spf_fail" and "RFC 7505" in bare.meaning("en")
    assert find_codes("550 5.7.30 DKIM did not pass - gsmtp")[0].cause_id == "dkim_fail"
    assert find_codes("530 Must issue a STARTTLS command first")[0].cause_id == "tls_required"


def test_the_outlook_reply_family_explains_the_reply_behind_it() -> None:
    (match,) = find_codes("送信エラー 0x800CCC6D")
    assert match.reply == "552" and match.cause_id == "mailbox_full"
    assert "552" in match.meaning("ja") and "552" in match.meaning("en")
    assert match.entry.code == "0x800CCC6X"


def test_a_temporary_code_borrows_the_permanent_meaning_and_says_so() -> None:
    match = next(m for m in find_codes("451 4.7.26 DMARC check failed") if m.code == "4.7.26")
    assert match.cause_id == "dmarc_fail" and match.temporary
    assert "一時的" in match.meaning("ja") and "temporary" in match.meaning("en")


# ------------------------------------------------------------------------------ bounces


def test_an_rfc3464_bounce_gives_each_recipient_status_and_cause() -> None:
    bounce = parse_bounce(RFC3464)
    assert bounce is not None and bounce.format == "rfc3464"
    assert bounce.reporting_mta == "mail.example.jp"
    first, second = bounce.recipients
    assert (first.address, first.action, first.status) == ("saburo@example.org", "failed", "5.2.2")
    assert first.remote_mta == "mx1.example.org"
    assert first.diagnostic is not None and "Mailbox full" in first.diagnostic
    assert first.match is not None and first.match.cause_id == "mailbox_full"
    assert (second.address, second.action, second.status) == (
        "shiro@example.net",
        "delayed",
        "4.4.1",
    )
    assert second.diagnostic is not None and second.diagnostic.endswith("Connection timed out")
    assert second.match is not None and second.match.cause_id == "timeout"


def test_codes_in_the_returned_original_are_ignored() -> None:
    explanation = explain(RFC3464, "ja")
    assert "5.7.26" not in [m.code for m in explanation.matches]
    assert explanation.top_cause == "mailbox_full"


def test_a_postfix_free_text_bounce() -> None:
    bounce = parse_bounce(POSTFIX)
    assert bounce is not None and bounce.format == "postfix"
    assert bounce.reporting_mta == "mail.example.jp"
    (rcpt,) = bounce.recipients
    assert rcpt.address == "taro@example.com"
    assert rcpt.status == "5.1.1" and rcpt.action == "failed"
    assert rcpt.remote_mta == "mx.example.com"
    assert rcpt.diagnostic is not None and rcpt.diagnostic.startswith("550 5.1.1")
    assert "(in reply to" not in rcpt.diagnostic
    assert rcpt.match is not None and rcpt.match.cause_id == "recipient_unknown"


@pytest.mark.parametrize("text", [EXCHANGE_EN, EXCHANGE_JA], ids=["en", "ja"])
def test_an_exchange_ndr(text: str) -> None:
    bounce = parse_bounce(text)
    assert bounce is not None and bounce.format == "exchange"
    assert bounce.reporting_mta == "TYAPR01MB1234.jpnprd01.prod.outlook.com"
    (rcpt,) = bounce.recipients
    assert rcpt.address == "hanako@contoso.example"
    assert rcpt.status == "5.1.10"
    assert rcpt.match is not None and rcpt.match.cause_id == "recipient_unknown"


@pytest.mark.parametrize("text", [GMAIL_EN, GMAIL_JA], ids=["en", "ja"])
def test_a_gmail_bounce(text: str) -> None:
    bounce = parse_bounce(text)
    assert bounce is not None and bounce.format == "gmail"
    (rcpt,) = bounce.recipients
    assert rcpt.address == "jiro@example.net"
    assert (rcpt.status, rcpt.action) == ("5.1.1", "failed")
    assert rcpt.diagnostic is not None and rcpt.diagnostic.startswith("550 5.1.1")
    assert rcpt.match is not None and rcpt.match.cause_id == "recipient_unknown"


def test_a_gmail_delay_notice_is_delayed_not_failed() -> None:
    bounce = parse_bounce(GMAIL_DELAYED)
    assert bounce is not None
    (rcpt,) = bounce.recipients
    assert (rcpt.address, rcpt.action) == ("hachi@example.com", "delayed")
    assert rcpt.match is not None and rcpt.match.cause_id == "cannot_connect"


@pytest.mark.parametrize(
    ("text", "fmt", "address", "status", "cause"),
    [
        (EXIM, "exim", "shiro@example.com", "5.2.1", "mailbox_disabled"),
        (QMAIL, "qmail", "goro@example.net", "5.1.1", "recipient_unknown"),
        (SENDMAIL, "sendmail", "nana@example.org", "5.3.4", "message_too_large"),
        (JAPANESE_PROVIDER, "generic", "rokuro@example.ne.jp", None, "recipient_unknown"),
    ],
)
def test_other_free_text_bounces(
    text: str, fmt: str, address: str, status: str | None, cause: str
) -> None:
    bounce = parse_bounce(text)
    assert bounce is not None and bounce.format == fmt
    rcpt = bounce.recipients[0]
    assert (rcpt.address, rcpt.status) == (address, status)
    assert rcpt.match is not None and rcpt.match.cause_id == cause


def test_the_exim_bounce_names_the_remote_server() -> None:
    bounce = parse_bounce(EXIM)
    assert bounce is not None and bounce.recipients[0].remote_mta == "mx.example.com"


def test_an_encoded_japanese_bounce_is_decoded() -> None:
    text = iso2022jp_bounce(
        "以下のアドレスへのメールは配送できませんでした。\n\n"
        "<hachiro@example.ne.jp>: 宛先不明のため配送できませんでした。\n"
    )
    assert "宛先不明" not in text  # only readable after decoding
    bounce = parse_bounce(text)
    assert bounce is not None
    (rcpt,) = bounce.recipients
    assert rcpt.address == "hachiro@example.ne.jp"
    assert rcpt.match is not None and rcpt.match.cause_id == "recipient_unknown"


def test_an_encoded_bounce_with_delivery_status() -> None:
    dsn = (
        "Reporting-MTA: dns; mx.example.ne.jp\n\n"
        "Final-Recipient: rfc822; kuro@example.ne.jp\nAction: failed\nStatus: 5.2.2\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full"
    )
    bounce = parse_bounce(iso2022jp_bounce("メールボックスの容量がいっぱいです。\n", dsn))
    assert bounce is not None and bounce.format == "rfc3464"
    assert bounce.reporting_mta == "mx.example.ne.jp"
    (rcpt,) = bounce.recipients
    assert (rcpt.address, rcpt.status) == ("kuro@example.ne.jp", "5.2.2")
    assert rcpt.match is not None and rcpt.match.cause_id == "mailbox_full"


def test_dsn_groups_without_blank_lines_still_split() -> None:
    text = (
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n"
        "Original-Recipient: rfc822; b@example.com\nFinal-Recipient: rfc822; b@example.com\n"
        "Action: failed\nStatus: 5.2.2\n"
    )
    bounce = parse_bounce(text)
    assert bounce is not None
    assert [(r.address, r.status) for r in bounce.recipients] == [
        ("a@example.com", "5.1.1"),
        ("b@example.com", "5.2.2"),
    ]


def test_text_that_is_not_a_bounce_has_no_bounce() -> None:
    assert parse_bounce("535 5.7.8 Username and Password not accepted") is None
    assert parse_bounce("メールが届かないのですが、どうすればいいですか") is None


# ------------------------------------------------------------------------------ headers


def test_headers_give_the_route_oldest_first_with_delays() -> None:
    report = parse_headers(HEADERS)
    assert report is not None
    hops = report.hops
    assert [h.by_host for h in hops] == ["mail.example.jp", "mx.google.com", "2002:a05:6000:1234"]
    assert hops[0].from_host == "[192.168.1.10]" and hops[0].from_ip == "192.168.1.10"
    assert hops[1].from_host == "mail.example.jp" and hops[1].from_ip == "192.0.2.1"
    assert [h.protocol for h in hops] == ["ESMTPSA", "ESMTPS", "SMTP"]
    assert [h.delay_seconds for h in hops] == [2.0, 15.0, 2.0]
    assert report.total_delay_seconds == 19.0


def test_headers_give_the_newest_authentication_results() -> None:
    report = parse_headers(HEADERS)
    assert report is not None
    assert report.auth == {"spf": "softfail", "dkim": "pass", "dmarc": "fail", "arc": None}


def test_received_spf_and_arc_fill_in_when_authentication_results_is_missing() -> None:
    text = (
        "Received-SPF: pass (example.net: domain of a@example.jp designates 192.0.2.1)\n"
        "ARC-Authentication-Results: i=1; mx.example.net; dkim=fail; dmarc=none\n"
    )
    report = parse_headers(text)
    assert report is not None and report.hops == ()
    assert report.auth == {"spf": "pass", "dkim": "fail", "dmarc": "none", "arc": None}


def test_a_clock_that_runs_behind_gives_a_negative_delay() -> None:
    text = (
        "Received: from b by c; Tue, 4 Mar 2025 10:00:00 +0000\n"
        "Received: from a by b; Tue, 4 Mar 2025 10:00:30 +0000\n"
    )
    report = parse_headers(text)
    assert report is not None
    assert [h.delay_seconds for h in report.hops] == [None, -30.0]
    assert "時計のずれ" in render_text(explain(text, "ja"), "ja")


def test_undated_and_malformed_received_lines_do_not_break_the_chain() -> None:
    text = (
        "Received: from x by y; not a date at all\n"
        "Received: (qmail 123 invoked by uid 0)\n"
        "Received: from a ((nested (comments)) [192.0.2.9]) by b with SMTP; "
        "Tue, 4 Mar 2025 10:00:00 +0000\n"
    )
    report = parse_headers(text)
    assert report is not None and len(report.hops) == 3
    assert report.hops[0].from_ip == "192.0.2.9"
    assert report.hops[2].date is None


def test_the_report_points_at_the_slow_step() -> None:
    text = (
        "Received: from b by c; Tue, 4 Mar 2025 10:30:05 +0000\n"
        "Received: from a by b; Tue, 4 Mar 2025 10:00:03 +0000\n"
        "Date: Tue, 4 Mar 2025 10:00:00 +0000\n"
    )
    report = parse_headers(text)
    assert report is not None and [h.delay_seconds for h in report.hops] == [3.0, 1802.0]
    rendered = render_text(explain(text, "en"), "en").splitlines()
    slow = [line for line in rendered if "slow step" in line]
    assert len(slow) == 1 and "a → b" not in slow[0] and "b → c" in slow[0]
    assert evaluate([{"text": text, "expect_delay_hop": 1}])["slowest_hop_accuracy"] == 1.0
    assert evaluate([{"text": text, "expect_delay_hop": 0}])["slowest_hop_accuracy"] == 0.0


def test_plain_text_has_no_headers() -> None:
    assert parse_headers("メールが送れません。エラーは 0x800CCC0E です。") is None


# ------------------------------------------------------------------- explanation and report


def test_to_json_has_exactly_the_promised_shape() -> None:
    data = explain(RFC3464, "en").to_json()
    assert set(data) == {"matches", "bounce", "headers"}
    for match in data["matches"]:
        assert set(match) == {"code", "kind", "cause_id", "meaning", "cause", "fix", "span"}
        assert isinstance(match["span"], list) and len(match["span"]) == 2
    assert data["bounce"]["recipients"][0]["address"] == "saburo@example.org"
    json.dumps(data)  # serialisable as it is


def test_texts_follow_the_language() -> None:
    ja = explain("0x800CCC0E", "ja").to_json()["matches"][0]
    en = explain("0x800CCC0E", "en").to_json()["matches"][0]
    assert "接続" in ja["meaning"] and "connect" in en["meaning"]
    assert explain("0x800CCC0E", "fr").to_json() == explain("0x800CCC0E", "ja").to_json()


def test_plain_text_gives_nulls() -> None:
    data = explain("こんにちは", "ja").to_json()
    assert data == {"matches": [], "bounce": None, "headers": None}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_report_reads_as_a_whole(lang: str) -> None:
    text = render_text(explain(POSTFIX, lang), lang)
    assert "taro@example.com" in text and "5.1.1" in text
    if lang == "ja":
        assert "宛先" in text and "対処" in text
    else:
        assert "Recipient" in text and "What to do" in text
    header_text = render_text(explain(HEADERS, lang), lang)
    assert "mx.google.com" in header_text and "DMARC" in header_text


def test_the_report_explains_each_cause_once() -> None:
    text = render_text(explain(EXCHANGE_JA, "ja"), "ja")
    assert text.count("考えられる原因") == 1


def test_the_report_asks_for_more_when_nothing_is_found() -> None:
    assert "貼り付けて" in render_text(explain("うまくいきません", "ja"), "ja")
    assert "paste" in render_text(explain("it does not work", "en"), "en")


# ------------------------------------------------------------------------------ accuracy

CASES = [
    {"text": "送信エラー (0x800CCC0E)", "lang": "ja", "expect_codes": ["0x800CCC0E"],
     "expect_cause_ids": ["cannot_connect"]},
    {"text": "受信エラー 0x800CCC92 パスワード", "lang": "ja", "expect_codes": ["0x800CCC92"],
     "expect_cause_ids": ["auth_failed"]},
    {"text": "Error 0x800CCC1A: secure connection failed", "lang": "en",
     "expect_codes": ["0x800CCC1A"], "expect_cause_ids": ["tls_failed"]},
    {"text": "534-5.7.9 Application-specific password required.", "lang": "en",
     "expect_codes": ["534", "5.7.9"], "expect_cause_ids": ["app_password_required"]},
    {"text": "535 5.7.3 Authentication unsuccessful", "lang": "ja",
     "expect_codes": ["535", "5.7.3"], "expect_cause_ids": ["auth_failed"]},
    {"text": "550 5.7.30 Basic authentication is not supported for Client Submission", "lang": "en",
     "expect_codes": ["5.7.30"], "expect_cause_ids": ["basic_auth_disabled"]},
    {"text": "550-5.7.25 The IP address sending this message does not have a PTR record setup",
     "lang": "en", "expect_codes": ["550", "5.7.25"], "expect_cause_ids": ["no_ptr"]},
    {"text": "452 4.2.2 The email account that you tried to reach is over quota.", "lang": "ja",
     "expect_codes": ["452", "4.2.2"], "expect_cause_ids": ["mailbox_full"]},
    {"text": "552 5.3.4 Message size exceeds fixed limit", "lang": "en",
     "expect_codes": ["552", "5.3.4"], "expect_cause_ids": ["message_too_large"]},
    {"text": "450 4.7.1 <a@example.jp>: Recipient address rejected: Greylisted", "lang": "en",
     "expect_codes": ["450", "4.7.1"], "expect_cause_ids": ["greylisted"]},
    {"text": "550 5.1.2 Host or domain name not found", "lang": "ja",
     "expect_codes": ["5.1.2"], "expect_cause_ids": ["domain_not_found"]},
    {"text": "4.4.7 Delivery time expired", "lang": "en", "expect_codes": ["4.4.7"],
     "expect_cause_ids": ["delivery_expired"]},
    {"text": "Cannot Verify Server Identity", "lang": "en", "expect_codes": [],
     "expect_cause_ids": ["tls_failed"]},
    {"text": "サーバの識別情報を検証できません", "lang": "ja", "expect_codes": [],
     "expect_cause_ids": ["tls_failed"]},
    {"text": "ログインできませんでした", "lang": "ja", "expect_codes": [],
     "expect_cause_ids": ["auth_failed"]},
    {"text": POSTFIX, "lang": "ja", "expect_codes": ["5.1.1"],
     "expect_cause_ids": ["recipient_unknown"], "expect_recipient": "taro@example.com"},
    {"text": EXCHANGE_JA, "lang": "ja", "expect_codes": ["5.1.10"],
     "expect_cause_ids": ["recipient_unknown"], "expect_recipient": "hanako@contoso.example"},
    {"text": GMAIL_EN, "lang": "en", "expect_codes": ["5.1.1"],
     "expect_cause_ids": ["recipient_unknown"], "expect_recipient": "jiro@example.net"},
    {"text": RFC3464, "lang": "en", "expect_codes": ["5.2.2", "4.4.1"],
     "expect_cause_ids": ["mailbox_full"], "expect_recipient": "shiro@example.net"},
    {"text": SENDMAIL, "lang": "ja", "expect_codes": ["5.3.4"],
     "expect_cause_ids": ["message_too_large"], "expect_recipient": "nana@example.org"},
]  # fmt: skip


def test_the_own_cases_are_all_right() -> None:
    assert len(CASES) == 20
    result = evaluate(CASES)
    assert result["failures"] == []
    assert result["cases"] == 20
    assert result["top1_cause_accuracy"] == 1.0
    assert result["code_recall"] == 1.0
    assert result["recipient_accuracy"] == 1.0 and result["recipient_cases"] == 5


def test_evaluation_reports_misses() -> None:
    result = evaluate(
        [
            {"text": "0x800CCC0E", "expect_codes": ["0x800CCC0F"], "expect_cause_ids": ["timeout"]},
            {"text": "nothing here", "expect_cause_ids": ["auth_failed"]},
        ]
    )
    assert result["top1_cause_accuracy"] == 0.0 and result["code_recall"] == 0.0
    assert result["recipient_accuracy"] is None
    assert [f["case"] for f in result["failures"]] == [1, 2]


def test_evaluate_cases_reads_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CASES[:3]) + "\n\n")
    assert evaluate_cases(path)["top1_cause_accuracy"] == 1.0
    path.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match=r"cases\.jsonl:2"):
        evaluate_cases(path)


# ---------------------------------------------------------------------------- robustness


def garbage(seed: int, size: int) -> str:
    rng = random.Random(seed)
    alphabet = (
        "\x00\x01\x1b\t\n\r -:;<>@[]()#.'\"0123456789abcxyzABCXYZ"
        "あ受信エラーｶﾞ５．😀📧\u200b\u3099\ud800\udfff\U0010ffff"
    )
    pieces = [rng.choice(alphabet) for _ in range(size)]
    for _ in range(size // 200):  # sprinkle fragments that wake up every parser
        pieces.insert(
            rng.randrange(len(pieces)),
            rng.choice(
                [
                    "550 5.1.1 ",
                    "0x800CCC0E",
                    "\nReceived: from a by b; ",
                    "\nFinal-Recipient: ",
                    "\n--b\nContent-Type: text/plain\n\n",
                    "<a@b.example>: ",
                    "Date: ",
                    "\nAction: failed\nStatus: 5.",
                    "Remote Server returned '",
                    "宛先不明",
                ]
            ),
        )
    return "".join(pieces)


@pytest.mark.parametrize(
    "text",
    [
        garbage(1, 100_000),
        garbage(2, 20_000),
        "\x00" * 50_000 + "550 5.1.1" + "\x00" * 50_000,
        "😀📧❌ 0x800CCC0E ユーザー不明 👍" * 4_000,
        "abc\ud800\udfff\udc00 0x800CCC0E \ud83d",
        "x" * (MAX_INPUT + 10),
        "(" * 60_000 + "Received: from " + ")" * 60_000,
        "Received: from a by b; " + "Tue, 4 Mar 2025 " * 8_000,
        "--b\nContent-Type: multipart/mixed; boundary=b\n\n" * 4_000,
        "Final-Recipient: rfc822;\nAction: \nStatus: 9.9.9\n\n" * 4_000,
        "<a@b.example>:\n" * 15_000,
        "a" * 150_000 + "@",
        "".join(chr(i) for i in range(32)) * 3_000,
        "",
    ],
    ids=[
        "garbage-100k", "garbage-20k", "nul", "emoji", "surrogates", "over-cap", "parentheses",
        "dates", "mime-boundaries", "empty-dsn", "address-lines", "long-local-part", "controls",
        "empty",
    ],
)  # fmt: skip
def test_any_text_is_explained_quickly_without_error(text: str) -> None:
    started = time.monotonic()
    explanation = explain(text, "ja")
    data = explanation.to_json()
    json.dumps(data, ensure_ascii=False).encode("utf-8")
    for lang in ("ja", "en"):
        render_text(explanation, lang).encode("utf-8")
    assert time.monotonic() - started < 10
    assert explanation.truncated == (len(text) > MAX_INPUT)
    for match in data["matches"]:
        assert 0 <= match["span"][0] <= match["span"][1] <= min(len(text), MAX_INPUT)


def test_the_readers_themselves_never_raise_on_garbage() -> None:
    for seed in range(20):
        text = garbage(seed, 3_000)
        find_codes(text)
        parse_bounce(text)
        parse_headers(text)
