"""The cookie and consent rules: notices in eight languages go, journalism about cookies stays."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Config, Document
from dedup.boilerplate import RuleClassifier, cookie_evidence
from dedup.segment import split_paragraphs

NOTICES = {
    "en": "This website uses cookies to improve your experience. By clicking Accept you agree "
          "to our use of cookies. Manage settings",
    "en-tcf": "We and our partners store and/or access information on a device, such as cookies, "
              "and process personal data for personalised ads and content.",
    "en-buttons": "Accept all Reject all Manage preferences",
    "de": "Wir verwenden Cookies, um unsere Website zu verbessern. Mit Klick auf „Alle "
          "akzeptieren“ stimmen Sie der Verwendung zu. Mehr in der Datenschutzerklärung.",
    "fr": "En poursuivant votre navigation sur ce site, vous acceptez l'utilisation de cookies "
          "pour vous proposer des contenus adaptés. Tout accepter | Paramétrer",
    "es": "Utilizamos cookies propias y de terceros. Si continúa navegando, consideramos que "
          "acepta su uso. Configuración de cookies",
    "it": "Questo sito utilizza cookie tecnici e di profilazione. Proseguendo la navigazione "
          "acconsenti all'uso dei cookie. Accetta tutti",
    "pl": "Używamy plików cookie, aby zapewnić najlepszą jakość. Korzystając z serwisu wyrażasz "
          "zgodę na ich użycie. Ustawienia cookie",
    "nl": "Wij gebruiken cookies om onze website te verbeteren. Door verder te gaan ga je "
          "akkoord met ons cookiebeleid. Alles accepteren",
    "pt": "Este site utiliza cookies para melhorar a sua experiência. Ao continuar a navegar, "
          "concorda com a utilização de cookies. Aceitar todos",
}

JOURNALISM = {
    "en": "The regulator said websites that use cookies must let visitors reject them as easily "
          "as they accept them, and fined the ticket seller £2m.",
    "en-quote": "“We use cookies to improve your experience,” reads the banner, which the court "
                "ruled was misleading because it offered no way to refuse.",
    "de": "Laut der Datenschutzbehörde müssen Websites, die Cookies setzen, eine echte Wahl "
          "bieten; das Gericht verhängte ein Bußgeld gegen den Verlag.",
    "fr": "Selon la CNIL, un site qui dépose des cookies publicitaires doit permettre de tout "
          "refuser aussi facilement que de tout accepter, a expliqué sa présidente.",
    "es": "Según la autoridad de protección de datos, la multa se debe a que la web instalaba "
          "cookies de seguimiento sin consentimiento, explicó el portavoz.",
    "it": "Secondo il Garante, il sito installava cookie di profilazione senza consenso: la "
          "sanzione è di 300 mila euro, ha spiegato il presidente.",
    "pl": "Według UODO serwis instalował pliki cookie bez zgody użytkowników, dlatego urząd "
          "nałożył karę w wysokości 1,2 mln zł, powiedziała rzeczniczka.",
    "baking": "The bakery sold 4,000 chocolate chip cookies on Saturday, and the queue for the "
              "oatmeal cookies stretched around the block.",
}


@pytest.mark.parametrize("name", sorted(NOTICES))
def test_consent_notices_are_dropped(name: str) -> None:
    ev = cookie_evidence(NOTICES[name])
    assert ev.score >= 0.5, ev.describe()


@pytest.mark.parametrize("name", sorted(JOURNALISM))
def test_content_about_cookies_is_kept(name: str) -> None:
    ev = cookie_evidence(JOURNALISM[name])
    assert ev.score < 0.5, ev.describe()


def test_lone_short_answers_are_not_buttons() -> None:
    for line in ("OK", "Yes.", "Accept", "I agree."):
        assert cookie_evidence(line).score < 0.5


def test_classifier_gives_reason_score_and_features() -> None:
    doc = Document("d", NOTICES["en"] + "\n" + JOURNALISM["en"])
    doc.paragraphs = split_paragraphs(doc.text)
    first, second = RuleClassifier().classify(doc)
    assert first is not None and first.reason == "boilerplate:cookie"
    assert first.score >= 0.5 and "strong=" in first.detail
    assert second is None


def test_threshold_is_the_knob() -> None:
    text = "Cookie settings"  # weak evidence: two cue words, nothing else
    score = cookie_evidence(text).score
    rules = Config().replace(boilerplate={"classifier": "rules"})
    lenient = rules.replace(boilerplate={"threshold": min(1.0, score + 0.01)})
    strict = rules.replace(boilerplate={"threshold": max(0.0, score - 0.01)})
    assert Cleaner(lenient).clean(text).text == "Cookie settings\n"
    assert Cleaner(strict).clean(text).text == ""


def test_classifier_can_be_disabled() -> None:
    cfg = Cleaner().config.replace(boilerplate={"enabled": False})
    assert Cleaner(cfg).clean(NOTICES["en"]).text == NOTICES["en"] + "\n"


def test_consent_buttons_on_their_own_lines_go_with_the_notice() -> None:
    from dedup import Cleaner, Config

    notice = "We use cookies to personalise content and ads. By continuing you agree."
    body = "The council approved the harbour bridge budget after a long debate on Monday."
    text = f"{notice}\nAccept all\n\nManage options\n{body}\nOK"
    rules = Config().replace(boilerplate={"classifier": "rules"})
    reasons = [v.reason for v in Cleaner(rules).clean(text).verdicts]
    # the two button rows (a blank line between) join the notice; a lone "OK" far from any
    # notice, after the article, stays
    assert reasons == ["boilerplate:cookie", "boilerplate:cookie", "blank",
                       "boilerplate:cookie", "content", "content"]
    alone = [v.reason for v in Cleaner(rules).clean(f"{body}\nAccept all").verdicts]
    assert alone == ["content", "content"]
    # The page model finds the same dialog, whole, and keeps the article.
    assert [v.reason for v in Cleaner(Config()).clean(text).verdicts][:5] == reasons[:5]


@pytest.mark.parametrize("button", [
    "Ja, ik ga akkoord", "Yes, I agree", "Ich stimme zu", "Sí, acepto", "Jag godkänner",
    "Oui, j’accepte", "Tak, zgadzam się", "Da, sunt de acord", "Jeg accepterer",
    "Ano, souhlasím", "Sì, accetto", "Sim, concordo"])
def test_first_person_consent_buttons_go_with_the_notice_in_every_language(
        button: str) -> None:
    notice = "We use cookies to personalise content and ads. By continuing you agree."
    body = "The council approved the harbour bridge budget after a long debate on Monday."
    reasons = [v.reason for v in Cleaner().clean(f"{notice}\n{button}\n{body}").verdicts]
    assert reasons == ["boilerplate:cookie", "boilerplate:cookie", "content"]
    # the same words far from any notice are an answer, not a button
    assert [v.reason for v in Cleaner().clean(f"{body}\n{button}").verdicts] == [
        "content", "content"]


BODY = "The council approved the harbour bridge budget after a long debate on Monday."
OTHER = "Ferries will run every twenty minutes while the bridge stays closed to lorries."
# Consent dialogs as extractors emit them: a heading, notice text, buttons on their own lines.
DIALOGS = {
    "es": ["Tu privacidad es importante para nosotros",
           "Utilizamos cookies propias y de terceros para analizar el tráfico y mostrarte "
           "publicidad personalizada.", "Más información", "Rechazar", "Aceptar"],
    "pt": ["A sua privacidade", "Utilizamos cookies para melhorar a sua experiência e para "
           "fins de publicidade.", "Não, obrigado", "Definições", "Aceitar todos"],
    "sv": ["Vi värnar om din integritet", "Vi använder kakor för att anpassa innehåll och "
           "annonser.", "Inställningar", "Nej tack", "Godkänn alla"],
    "pl": ["Twoja prywatność", "Używamy plików cookie, aby dostosować treści i reklamy.",
           "Więcej informacji", "Odrzuć", "Akceptuję"],
}


@pytest.mark.parametrize("lang", sorted(DIALOGS))
def test_a_consent_dialog_goes_whole_heading_and_labels_included(lang: str) -> None:
    lines = DIALOGS[lang]
    text = "\n".join([BODY, "", *lines, "", OTHER])
    verdicts = Cleaner(Config().replace(boilerplate={"classifier": "rules"})).clean(text).verdicts
    reasons = [v.reason for v in verdicts]
    assert reasons == ["content", "blank", *["boilerplate:cookie"] * len(lines), "blank",
                       "content"]


def test_a_dialog_whose_notice_is_weak_alone_is_found_by_its_buttons() -> None:
    """Notice text that scores below the threshold on its own, with two button lines and a
    heading: the buttons on their own lines are the evidence buttons inside it would be."""
    notice = ("The Ledger and 80 partners store information on your device, such as cookies, "
              "to show personalised ads.")
    assert cookie_evidence(notice).score < 0.5
    text = f"{BODY}\nYour privacy choices\n{notice}\nAccept all\nManage options\n{OTHER}"
    reasons = [v.reason for v in Cleaner(Config().replace(
        boilerplate={"classifier": "rules"})).clean(text).verdicts]
    assert reasons == ["content"] + ["boilerplate:cookie"] * 4 + ["content"]
    # without the buttons it is one sentence about cookies among others, and stays
    alone = [v.reason for v in Cleaner(Config().replace(
        boilerplate={"classifier": "rules"})).clean(f"{BODY}\n{notice}\n{OTHER}").verdicts]
    assert alone == ["content"] * 3


def test_a_notice_sentence_split_over_two_lines_goes_whole() -> None:
    text = (f"{BODY}\nCe site utilise des cookies pour améliorer votre expérience,\n"
            f"mesurer l'audience et vous proposer des offres adaptées.\nJ'accepte\n{OTHER}")
    reasons = [v.reason for v in Cleaner(Config().replace(
        boilerplate={"classifier": "rules"})).clean(text).verdicts]
    assert reasons == ["content"] + ["boilerplate:cookie"] * 3 + ["content"]


def test_an_articles_heading_and_answers_beside_a_notice_stay() -> None:
    """Without a button line the run is an article's, not a dialog: its heading about consent
    stays beside a quoted notice; a bare "No." is an answer, never a button."""
    quoted = "We use cookies to personalise content and ads. By continuing you agree."
    third = "Engineers expect the repairs to take until the end of the summer holidays."
    text = f"{BODY}\n{quoted}\nConsent and cookies\n{OTHER}\nNo.\n{third}"
    reasons = [v.reason for v in Cleaner(Config().replace(
        boilerplate={"classifier": "rules"})).clean(text).verdicts]
    assert reasons[2] == "content" and reasons[4] == "content"


TEMPLATE = [
    ("Home | News | Sport | Culture | Opinion", "boilerplate:nav"),
    ("Business › Technology › Data", "boilerplate:nav"),
    ("© 2025 Harbour Times. All rights reserved.", "boilerplate:legal"),
    ("Copyright 2024 Rheinblick Verlag GmbH", "boilerplate:legal"),
    ("Tous droits réservés", "boilerplate:legal"),
    ("Share", "boilerplate:share"),
    ("Teilen", "boilerplate:share"),
    ("Facebook Twitter WhatsApp Copy link", "boilerplate:share"),
    ("Subscribe to our newsletter", "boilerplate:newsletter"),
    ("Enter your email address", "boilerplate:newsletter"),
    ("Newsletter abonnieren", "boilerplate:newsletter"),
    ("Schrijf je in voor onze nieuwsbrief", "boilerplate:newsletter"),
    ("Sign in | Register", "boilerplate:login"),
    ("Mein Konto", "boilerplate:login"),
    ("Zaloguj się", "boilerplate:login"),
    ("Mot de passe oublié ?", "boilerplate:login"),
]
NOT_TEMPLATE = [
    "Copyright law is changing fast, lawyers say.",
    "(c) the tenant has lived in the flat for five years or more.",
    "By Ruth Ambler · Published 3 November 2025 · Makes 18 · Prep 20 min",
    "Por Felipe Andrade | 16 de fevereiro de 2026",
    "Pros: fast · light · cheap · quiet",
    "We shared the results with the council on Monday.",
    "Sign up for the marathon opens on Monday",
    "Our newsletter went out on Monday.",
    "The password was leaked",
    "National Register of Historic Places",
    "Subscribe to our newsletter and get ten free recipes every single week of the year.",
]


@pytest.mark.parametrize(("line", "reason"), TEMPLATE)
def test_the_rules_drop_template_lines_by_their_shape(line: str, reason: str) -> None:
    rules = Cleaner(Config().replace(boilerplate={"classifier": "rules"}))
    assert [v.reason for v in rules.clean(f"{BODY}\n{line}").verdicts] == ["content", reason]


@pytest.mark.parametrize("line", NOT_TEMPLATE)
def test_content_shaped_like_a_template_line_stays(line: str) -> None:
    rules = Cleaner(Config().replace(boilerplate={"classifier": "rules"}))
    assert [v.reason for v in rules.clean(f"{BODY}\n{line}").verdicts] == ["content", "content"]


def _template_line_reference(text: str, toks: tuple[str, ...]) -> tuple[str, str] | None:
    """template_line as first written: every test on every line (the fast path skips tests
    whose anchors are missing)."""
    from dedup.boilerplate import classifier as c

    if not toks:
        return None
    low = text.lower()
    if len(toks) <= c.LEGAL_WORDS and (c._COPYRIGHT_START.match(text) or (
            not c._RIGHTS_ANCHORS.isdisjoint(toks) and c._RIGHTS.search(low))):
        return "boilerplate:legal", "a copyright line"
    if (len(toks) <= c.SHARE_WORDS and not c._SHARE_ANCHORS.isdisjoint(toks)
            and c._covered(c._SHARE, low, toks)):
        return "boilerplate:share", "share-widget labels only"
    if len(toks) <= c.PROMPT_WORDS and text.rstrip()[-1:] not in ".…":
        for name, pattern in c._PROMPTS.items():
            if not c._PROMPT_ANCHORS[name].isdisjoint(toks) and c._covered(pattern, low, toks):
                return f"boilerplate:{name}", f"{name} prompt phrases only"
    if any(ch in text for ch in "|·•›»"):
        items = [x for x in c._MENU_SPLIT.split(text.strip()) if x]
        need = 3 if c._CRUMB.search(text) else c.MENU_ITEMS
        if len(items) >= need and all(
                1 <= len(x.split()) <= c.MENU_ITEM_WORDS and not any(ch.isdigit() for ch in x)
                and not any(ch in ".!?:;…" for ch in x) for x in items):
            return "boilerplate:nav", f"a menu: {len(items)} short items between separators"
    return None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([" ", "\u3000", "\x1c", "©", "(c)", "(C)", "Copyright", "COPYRIGHT",
                                 "2025", "all rights reserved", "Share", "Tweet", "Sign in",
                                 "Subscribe to our newsletter", "Home", "|", "»", ".", "news",
                                 "c", "C", "(", "İ"]), min_size=1, max_size=8).map("".join))
def test_template_line_fast_path_equals_every_test_run(text: str) -> None:
    from dedup.boilerplate.classifier import template_line
    from dedup.normalize import tokens

    toks = tokens(text)
    assert template_line(text, toks) == _template_line_reference(text, toks)


def test_a_template_line_seen_again_is_answered_from_the_memo_with_the_same_verdict() -> None:
    from dedup.boilerplate.classifier import _template_line, template_line
    from dedup.normalize import tokens

    line = "Home | World | Business | Sport | Culture | Travel"
    toks = tokens(line)
    first = template_line(line, list(toks))
    before = _template_line.cache_info().hits
    assert template_line(line, tuple(toks)) == first == _template_line_reference(line, tuple(toks))
    assert _template_line.cache_info().hits == before + 1  # a list or a tuple: one entry
    assert first is not None and first[0] == "boilerplate:nav"
    other = "Home | World | Business | Sport | Culture | Travel 2025"  # a digit: not a menu
    assert template_line(other, tokens(other)) is None


def test_the_line_memos_keep_no_line_longer_than_a_cache_key() -> None:
    """The cookie, dialog and template memos hold their lines' text: a line longer than
    MAX_KEY_CHARS is judged afresh each time (the same verdict) without asking the memo; a
    short line asks it."""
    from dedup.boilerplate import classifier as c
    from dedup.cache import MAX_KEY_CHARS
    from dedup.normalize import tokens

    memos = (c._scored, c._dialog_role, c._template_line)

    def asked() -> list[int]:
        return [m.cache_info().hits + m.cache_info().misses for m in memos]

    def judge(line: str) -> tuple[object, ...]:
        toks = tokens(line)
        return (c.cookie_evidence(line, toks=toks), c.dialog_role(line, toks),
                c.template_line(line, toks))

    long = "We use cookies. Accept all | Settings | " + "x" * MAX_KEY_CHARS
    before = asked()
    first, again = judge(long), judge(long)
    assert first == again and first[0].score > 0  # type: ignore[attr-defined]
    assert asked() == before
    short = "We use cookies. Accept all | Settings | " + "y" * 20
    judge(short)
    assert all(now > then for now, then in zip(asked(), before, strict=True))
