"""Answers: citation checking, refusal, recommendations, comparisons, export — with the real pipeline."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from assistant.answer import PEERS_SAID, Assistant, draft_note, verify_answer
from assistant.cli import main
from assistant.export import answer_markdown
from assistant.retrieval import tokenize
from assistant.verify import best_quote, cited_numbers, split_sentences, support
from tests.conftest import make_home

DERBY, DERBYSHIRE = "Derby City Council", "Derbyshire County Council"


@pytest.fixture(scope="module")
def accounts_passages(retriever):
    return retriever.search_scope(retriever.analyse("What did peers say about Derby's accounts?"), k=5)


def test_sentences_and_citation_marks_are_parsed():
    text = "The accounts were late [1]. Auditors raised concerns [2, 3].\nIt was serious [1-2]."
    sentences = split_sentences(text)
    assert len(sentences) == 3
    assert [cited_numbers(s) for s in sentences] == [[1], [2, 3], [1, 2]]
    # Citations written after the full stop belong to the sentence before them.
    sentences = split_sentences("The accounts were late. [1] Auditors raised concerns. [2] It was serious [3].")
    assert [cited_numbers(s) for s in sentences] == [[1], [2], [3]]


def test_a_question_in_the_passage_supports_no_claim():
    passage = ("8. Are member-officer relationships constructive and overview and scrutiny effective and adding "
               "value? 9. How successful is the council becoming?")
    assert not support("Overview and scrutiny is effective and adding value", passage).supported
    assert support("Overview and scrutiny is effective and adding value",
                   "Overview and scrutiny is effective and is adding value.").supported


def test_who_said_it_is_not_part_of_what_must_be_supported(retriever):
    """"Peers said" matched any passage on the peers' visit, which also "adds value" to a council."""
    from assistant.retrieval import Passage

    visit = next(c for c in retriever.index.chunks
                 if c.council == "Derbyshire County Council" and "add value to a council’s own performance" in c.text)
    kept, removed = verify_answer("Peers said that scrutiny is effective and adding value [1].",
                                  [Passage(visit, 1.0, 0, n=1)], "What did peers say about scrutiny?")
    assert not kept and removed


def test_support_needs_the_words_and_the_numbers():
    passage = "This has amounted to a loss of £135m since 2010 with more needed by 2019/20."
    assert support("Derby has lost £135m since 2010", passage).supported
    assert not support("Derby has lost £150m since 2010", passage).supported  # wrong figure
    assert not support("Residents love the new swimming pool and library", passage).supported


def test_a_count_must_count_the_same_thing_as_in_the_passage():
    passage = ("The team of 8 'peers' were with us from 22 to 25 October 2018. They spent more than 370 hours "
               "with the council, which works with 8 district and borough councils, and backed HS2.")
    assert not support("The peer team spoke to 8 people", passage).supported  # 8 peers, not 8 people
    assert not support("The council has 25 councillors", passage).supported  # 25 is a date
    assert support("The peers spent 370 hours with the council", passage).supported
    assert support("The council works with 8 district councils", passage).supported
    assert support("The council backed HS2 in 2018", passage).supported  # not counts


def test_a_number_naming_a_section_counts_nothing():
    passage = ("In June 2017 the external auditor issued a Section 24 Schedule 7 (2) of the Local Audit and "
               "Accountability Act 2014 notice about the council’s inability to produce timely and accurate accounts.")
    assert support("The external auditor issued a Section 24 notice in June 2017", passage).supported
    assert not support("The external auditor issued 24 notices in June 2017", passage).supported


def test_a_count_taken_from_a_date_is_refused_end_to_end(settings, retriever):
    question = "How many councillors does Derbyshire County Council have?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, _ = passage_sentence(passages, "25 October")
    answer = Assistant(settings, retriever, model=Draft(f"Derbyshire has 25 councillors [{n}].")).ask(question)
    assert answer.refused, answer.text


def test_a_web_address_is_not_part_of_an_answer(settings, retriever):
    """The address's path ("…/Data/Resources…") once made a list of example councils look like an
    answer about the council's use of data."""
    question = "What did peers say about Derbyshire's use of data?"
    n, _ = found_sentence(retriever, question, "Hertfordshire County Council")
    link = "<https://democracy.hertfordshire.gov.uk/Data/Resources%20and%20Performance%20Cabinet%20Panel/>"
    draft = f"Examples of well-presented information include: Hertfordshire County Council {link} [{n}]."
    answer = Assistant(settings, retriever, model=Draft(draft)).ask(question)
    assert answer.refused and "http" not in answer.text, answer.text


def test_a_web_address_broken_across_lines_is_never_the_quote_shown(retriever):
    """The Derbyshire report links to an Essex page by an address with a space in it; as the longest
    piece of its passage it was shown as the nearest passage's quote for questions it shares no word with."""
    chunk = next(c for c in retriever.index.chunks if "essexcc" in c.text)
    quote = best_quote("What is the population of Derbyshire?", chunk.text)
    assert quote and "%3d" not in quote and "http" not in quote, quote


def test_a_name_must_stay_with_its_own_role():
    passage = ("Cllr Barry Lewis, Leader of the Council, welcomed the peer team. The team met partners from "
               "health and the police. Staff spoke well of the training on offer. The council's reserves are "
               "high. The Chief Executive set out the budget position to the team.")
    assert support("Barry Lewis is the Leader of the Council.", passage).supported
    # Every word is somewhere in the passage, but the name and the role are sentences apart.
    assert not support("The Chief Executive is Barry Lewis.", passage).supported


def test_a_who_answer_must_name_the_person_the_passage_gives_that_role(settings, retriever):
    """Two lines of the Derby peer team list; the model named the wrong one as the People director.
    (Asked "on the Derby peer team", the question is answered from the team list, without the model.)"""
    question = "Who was the People director among the peers who came to Derby?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "Sally Rowe" in p.chunk.text and "Helen Isaacs" in p.chunk.text)
    assert not retriever.analyse(question).team
    wrong = f"The People director on the Derby peer team was Helen Isaacs, Director of Governance [{n}]."
    answer = Assistant(settings, retriever, model=Draft(wrong)).ask(question)
    assert answer.refused and "names someone else" in answer.text, answer.text
    right = f"The People director on the Derby peer team was Sally Rowe, Corporate Director: People [{n}]."
    answer = Assistant(settings, retriever, model=Draft(right)).ask(question)
    assert not answer.refused and "Sally Rowe" in answer.text, answer.text


def test_of_two_people_in_one_sentence_the_post_goes_to_the_one_it_follows(settings, retriever):
    """The press release names the finance cabinet member and the Chief Executive in one sentence; the
    model gave the portfolio to the Chief Executive."""
    question = "Which Derby cabinet member holds the finance and governance portfolio?"
    n, _ = found_sentence(retriever, question, "Cabinet Member for Finance & Governance")
    wrong = Assistant(settings, retriever, model=Draft(f"Paul Robinson holds the finance and governance "
                                                       f"portfolio [{n}].")).ask(question)
    assert wrong.refused and "names someone else" in wrong.text, wrong.text
    right = Assistant(settings, retriever, model=Draft(f"Councillor Baggy Shanker is the Cabinet Member for "
                                                       f"Finance & Governance [{n}].")).ask(question)
    assert not right.refused and "Baggy Shanker" in right.text, right.text


def test_a_name_given_for_a_post_is_checked_even_when_no_name_is_asked_for(settings, retriever):
    """A side of "Did Derby and Derbyshire have the same peer challenge manager?" named the next line of
    Derbyshire's team list."""
    question = "Was Derbyshire's peer challenge manager an LGA officer?"
    assert retriever.analyse(question).expects == ""
    n, _ = found_sentence(retriever, question, "Selena Lansley")
    wrong = Assistant(settings, retriever, model=Draft(
        f"Derbyshire's peer challenge manager was Selena Lansley, Principal Negotiating Officer [{n}].")).ask(question)
    assert "Selena Lansley" not in wrong.text and "names someone else" in wrong.text, wrong.text


def test_a_side_of_a_comparison_whose_answer_fails_the_checks_does_not_claim_the_reports_are_silent(settings,
                                                                                                    retriever):
    wrong = "The peer challenge manager at Derbyshire was Selena Lansley, Principal Negotiating Officer."
    model = Drafts("The LGA peer challenge manager at Derby City Council was Judith Hurcombe.", wrong, wrong)
    answer = Assistant(settings, retriever, model=model).ask(
        "Did Derby and Derbyshire have the same peer challenge manager?")
    assert answer.kind == "comparison" and "Judith Hurcombe" in answer.text, answer.text
    assert "Selena Lansley" not in answer.text and "**Derbyshire County Council:** No answer from this council's " \
        "passages passed the checks" in answer.text, answer.text


def test_a_post_named_before_its_holder_goes_to_the_name_after_it():
    from assistant.retrieval import tokenize
    from assistant.verify import named_for_the_question

    passage = "The Leader, Councillor Ranjit Banwait, and the Chief Executive, Paul Robinson, met the peers."
    chief = {t: 1.0 for t in tokenize("chief executive")}
    assert named_for_the_question("Paul Robinson", passage, "Who is the Chief Executive?", chief)
    assert not named_for_the_question("Ranjit Banwait", passage, "Who is the Chief Executive?", chief)
    leader = {t: 1.0 for t in tokenize("leader")}
    assert named_for_the_question("Ranjit Banwait", passage, "Who is the Leader?", leader)
    assert not named_for_the_question("Paul Robinson", passage, "Who is the Leader?", leader)


def test_a_name_the_cited_passage_never_gives_is_not_supported(settings, retriever):
    """The model joined the Leader's name, from elsewhere, to a passage about an Ofsted inspection."""
    question = "What did peers say about children's services in Derbyshire?"
    n, _ = found_sentence(retriever, question, "focussed Ofsted inspection")
    claim = "has been subject to a focussed Ofsted inspection on child protection services in February 2018"
    named = Assistant(settings, retriever, model=Draft(f"Children's Services, led by Barry Lewis, {claim} [{n}].")).ask(question)
    assert "Barry Lewis" not in named.text, named.text
    unnamed = Assistant(settings, retriever, model=Draft(f"Children's Services {claim} [{n}].")).ask(question)
    assert not unnamed.refused and "focussed Ofsted inspection" in unnamed.text, unnamed.text


def test_a_figure_must_stay_with_its_own_year():
    passage = ("The council's net revenue budget for 2017/18 is £215m. The strategy covers three years. "
               "Savings plans are in place. Stakeholders are less clear about the savings due by 2019/20.")
    assert support("The net revenue budget for 2017/18 is £215m.", passage).supported
    # Both numbers are in the passage, but far apart: the figure belongs to another year.
    assert not support("The net revenue budget for 2019/20 is £215m.", passage).supported


def test_a_sentence_must_keep_the_passages_not():
    passage = ("The voluntary sector is a willing partner but does not always feel listened to by the council, "
               "and there are some frustrations about a degree of duplication in service delivery.")
    assert support("The voluntary sector does not always feel listened to by the council.", passage).supported
    # Every word is in the passage, but the "not" is dropped: the claim says the opposite.
    check = support("The voluntary sector feels listened to by the council.", passage)
    assert not check.supported and not check.negation_ok
    # The other half of the passage sentence is a claim of its own, with no "not" to keep.
    assert support("The voluntary sector is a willing partner of the council.", passage).supported


def test_a_fraction_is_a_figure():
    passage = ("There are high levels of sickness absence of which over a fifth of are stress related, although "
               "there is an overall lack of confidence in the accuracy of the sickness absence data.")
    assert support("Over a fifth of sickness absence is stress related.", passage).supported
    assert not support("Over a third of sickness absence is stress related.", passage).supported


def test_a_list_heading_cut_short_is_not_shown(retriever):
    question = "What are Derby's Super Six pledges?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "Super Six pledges of" in p.chunk.text)
    kept, removed = verify_answer(
        f"The Cabinet made a commitment to the delivery of 50 pledges, including the Super Six pledges of [{n}].",
        passages, question)
    assert not kept and removed


def test_a_draft_cut_off_by_the_length_limit_loses_its_unfinished_end(retriever):
    question = "What did peers say about scrutiny in Derby?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, sentence = passage_sentence(passages, "scrutin")
    kept, removed = verify_answer(f"{sentence} [{n}]. They also heard that scrutiny", passages, question)
    assert [s.text for s in kept] == [f"{sentence}."] and removed == ["They also heard that scrutiny"]


def test_a_sentence_repeating_an_earlier_one_is_shown_once(retriever):
    question = "What did peers say about member-officer relations in Derby?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, sentence = passage_sentence(passages, "officers moving to progress their careers elsewhere")
    kept, removed = verify_answer(f"{sentence} [{n}]. They also heard of officers moving to progress their careers "
                                  f"elsewhere [{n}].", passages, question)
    assert len(kept) == 1 and not removed
    # A later sentence saying the same and more replaces the earlier one.
    kept, removed = verify_answer(f"Officers were moving elsewhere [{n}]. {sentence} [{n}].", passages, question)
    assert len(kept) == 1 and kept[0].text.startswith(sentence[:40]) and not removed


def test_a_council_is_named_only_where_its_passage_allows(retriever):
    question = "Who gets HR services from a council in Amber Valley?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "Amber Valley" in p.chunk.text)
    assert passages[n - 1].chunk.council == DERBY
    kept, _ = verify_answer(f"Amber Valley gets HR services from Derby City Council [{n}].", passages, question,
                            retriever.councils)
    assert kept and kept[0].citations == [n]
    kept, removed = verify_answer(f"Amber Valley gets HR services from Derbyshire County Council [{n}].", passages,
                                  question, retriever.councils)
    assert not kept and removed


def test_a_citation_moves_to_the_passage_that_holds_the_whole_sentence(retriever):
    question = "Which board was judged outstanding as part of Derby's Ofsted SIF inspection?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    holder = next(p.n for p in passages if "Safeguarding Children Board" in p.chunk.text)
    near = next(p.n for p in passages if p.chunk.kind == "press release")
    kept, _ = verify_answer("The Ofsted SIF inspection included the work of Derby Safeguarding Children Board, "
                            f"which was judged to be outstanding [{near}].", passages, question, retriever.councils)
    assert kept[0].citations == [holder] and "re-cited" in kept[0].note


def test_a_quote_is_one_list_item():
    team = ("The peers who delivered the peer challenge at Derbyshire were:\n"
            "- Wendy Thomson, Managing Director, Norfolk County Council\n"
            "- Stephen Chandler, Director for Adults, Somerset County Council\n"
            "- Paul Masters, Strategic Director Neighbourhoods, Cornwall Council")
    quote = best_quote("Stephen Chandler was the Director for Adults from Somerset.", team)
    assert quote == "- Stephen Chandler, Director for Adults, Somerset County Council"
    # A paragraph ends at a blank line, even after a line with no full stop (a web address, a bullet).
    page = ("- greater awareness of what other councils are doing to improve services\n\n"
            "Cabinet members considered the report on 31 January 2019 and decided on next steps.")
    assert best_quote("Cabinet considered the report in January 2019.", page) == page.split("\n\n")[1]
    # A colon inside a line does not cut the item its answer is in.
    team = "The peers were:\n- Wendy Thomson, Managing Director\n- LGA peer challenge manager: Judith Hurcombe"
    assert best_quote("Who was the LGA peer challenge manager? Judith Hurcombe", team).endswith("Judith Hurcombe")


def test_a_wrong_citation_is_moved_to_the_passage_that_supports_it(accounts_passages):
    sentence = "Derby had not finalised its 2015/16 financial accounts"
    holder = next(p for p in accounts_passages if support(sentence, p.chunk.text).supported)
    other = next(p for p in accounts_passages if not support(sentence, p.chunk.text).supported)
    kept, removed = verify_answer(f"{sentence} [{other.n}].", accounts_passages)
    assert not removed and len(kept) == 1
    assert support(sentence, holder.chunk.text).supported
    assert all(support(kept[0].text, next(p for p in accounts_passages if p.n == n).chunk.text).supported
               for n in kept[0].citations)
    assert "re-cited" in kept[0].note


def test_an_unsupported_sentence_is_removed_never_shown_as_cited(accounts_passages):
    kept, removed = verify_answer(
        "Derby had not finalised its 2015/16 financial accounts [1]. "
        "The council plans to open twelve new libraries in 2025 [1].",
        accounts_passages,
    )
    assert any("libraries" in r for r in removed)
    assert all("libraries" not in s.text for s in kept)


def test_an_answer_does_not_open_with_also_or_they_when_the_first_draft_sentence_was_left_out(settings, retriever):
    question = "What did peers say about Derby's accounts?"
    n, sentence = found_sentence(retriever, question, "statutory obligations")
    draft = (f"The council plans to open twelve new libraries in 2025 [{n}]. They also heard that "
             f"{sentence[0].lower()}{sentence[1:]} [{n}].")
    answer = Assistant(settings, retriever, model=Draft(draft)).ask(question)
    assert answer.text.startswith("The peers heard that finalising"), answer.text


def test_a_sentence_restating_the_question_is_not_an_answer(settings, retriever):
    """The draft's point ("keeping up with online services") comes from the question: no report uses
    "online". A figure answer sharing a word with the question ("lost", where the passage says "loss") is
    still shown."""
    question = "Is Derbyshire keeping up with online services for residents?"
    n = retriever.search_scope(retriever.analyse(question), k=5)[0].n
    draft = (f"The council's Corporate peer challenge found that Derbyshire is keeping up with online services "
             f"for residents [{n}].")
    answer = Assistant(settings, retriever, model=Draft(draft)).ask(question)
    assert answer.refused and answer.removed, answer.text
    question = "How much funding has Derby lost since 2010?"
    n, _ = found_sentence(retriever, question, "£135m since 2010")
    answer = Assistant(settings, retriever, model=Draft(f"Derby has lost £135m since 2010 [{n}].")).ask(question)
    assert not answer.refused, answer.text
    # Asked what, the question's words and one more word that names nothing say nothing either.
    question = "What next steps did Derbyshire's Cabinet agree when it considered the peer challenge report?"
    n, _ = found_sentence(retriever, question, "decided on next steps")
    answer = Assistant(settings, retriever, model=Draft(f"Cabinet members agreed on next steps [{n}].")).ask(question)
    assert answer.refused and answer.removed, answer.text


def test_a_name_and_a_figure_from_two_items_of_a_list_are_not_supported_together(settings, retriever):
    """The list of new boards gives "first due to meet in early 2019" for the Value for Money Board only."""
    n, _ = found_sentence(retriever, "When will Derbyshire's new boards first meet?", "Culture, Heritage and Tourism Board")
    for board, supported in (("Culture, Heritage and Tourism Board", False), ("Value for Money Board", True)):
        question = f"When is Derbyshire's {board} first due to meet?"
        draft = Draft(f"The {board} is first due to meet in early 2019 [{n}].")
        answer = Assistant(settings, retriever, model=draft).ask(question)
        assert answer.refused != supported and ("early 2019" in answer.text) == supported, answer.text


def test_an_outcome_taken_from_the_question_is_not_shown(settings, retriever):
    """No report mentions a consultants' review: the passage reports performance on adult social care. The
    peers' own conclusions are theirs to report."""
    cases = [
        ("What did the consultants' review of adult social care at Derbyshire County Council conclude?",
         "wide range of highlights", "The consultants' review of adult social care at Derbyshire County Council "
         "concluded that there was a wide range of highlights achieved during 2017/18", True),
        ("What did peers conclude about Derby's capacity to deliver?", "insufficient corporate capacity",
         "Peers concluded that there is insufficient corporate capacity across the council", False),
    ]
    for question, words, claim, refused in cases:
        n, _ = found_sentence(retriever, question, words)
        answer = Assistant(settings, retriever, model=Draft(f"{claim} [{n}].")).ask(question)
        assert answer.refused == refused and bool(answer.removed) == refused, answer.text

def test_a_what_question_s_words_and_one_more_are_an_answer_only_if_it_names_something():
    from assistant.answer import affirms_the_question

    question = "What next steps did the Cabinet agree?"
    assert affirms_the_question("Cabinet members agreed on next steps.", question, [])
    assert not affirms_the_question("The Leader agreed next steps.", question, [])
    assert not affirms_the_question("Cabinet agreed three next steps.", question, [])
    assert not affirms_the_question("Derby planned to create 2,000 jobs by March 2019.",
                                    "How many jobs did Derby plan to create by March 2019?", [])
    assert not affirms_the_question("Cabinet did not agree next steps.", question, [])
    # A year the question holds is not a word more.
    assert affirms_the_question("The revised pay framework for 2019 makes for staff.",
                                "What changes does Derbyshire's revised 2019 pay framework make for staff?", [])
    # Asked yes or no, one word more is an answer: "reviewed" where the question says "looked at".
    assert not affirms_the_question("Yes, every council service will be reviewed.",
                                    "Will every council service be looked at?", [])
    assert not affirms_the_question("Yes, the recommendations have been completed.",
                                    "According to the press release, have the recommendations been acted on?", [])


def test_the_council_a_claim_names_is_checked_by_council_not_counted_as_missing_words(settings, retriever):
    """The team list line holds the role and the name; "Derbyshire" is in the list's heading, out of reach."""
    question = "Who was the Director for Strategy on the Derbyshire peer team?"
    draft = "The Director for Strategy on the Derbyshire peer team was Richard Puleston [3]."
    answer = Assistant(settings, retriever, model=Draft(draft)).ask(question)
    assert not answer.refused and "Richard Puleston" in answer.text, answer.text
    assert "Director for Strategy" in answer.citations[0].quote


def test_a_line_introducing_a_quotation_loses_its_speech_verb(settings, retriever):
    question = "Who is the Chief Executive of Derby City Council?"
    n, _ = found_sentence(retriever, question, "Paul Robinson, Chief Executive")
    draft = f"Paul Robinson, Chief Executive of Derby City Council says [{n}]."
    answer = Assistant(settings, retriever, model=Draft(draft)).ask(question)
    assert answer.text == "Paul Robinson, Chief Executive of Derby City Council [1].", answer.text


def test_recommendations_are_listed_completely(assistant):
    derby = assistant.ask("List the key recommendations for Derby")
    assert derby.kind == "recommendations" and not derby.refused
    assert len(derby.citations) == 11 and "11 key recommendations" in derby.text
    assert "Close the 2015/16 and 2016/17 accounts" in derby.text
    assert all(c.council == DERBY for c in derby.citations)
    derbyshire = assistant.ask("What did peers recommend to Derbyshire?")
    assert len(derbyshire.citations) == 7 and all(c.council == DERBYSHIRE for c in derbyshire.citations)
    both = assistant.ask("What are the key recommendations for both councils?")
    assert len(both.citations) == 18
    for c in both.citations:  # each cited span is the recommendation, checkable in the original lines
        assert c.quote in c.text and c.line_start <= c.line_end


def test_recommendations_on_one_theme(assistant):
    answer = assistant.ask("Which of Derby's key recommendations concern finance?")
    texts = " ".join(c.text for c in answer.citations)
    assert 0 < len(answer.citations) < 11 and f"{len(answer.citations)} of its 11 key recommendations" in answer.text
    # "How many" is answered by the list, which states the count.
    counted = assistant.ask("How many recommendations did the peers make to Derby?")
    assert counted.kind == "recommendations" and "11 key recommendations" in counted.text
    assert "accounts" in texts and "financial strategy" in texts


def test_recommendations_on_a_subject_are_those_that_mention_it(assistant):
    # "Commercialism" is on the finance theme's word list, but only one recommendation is about it.
    commercial = assistant.ask("What did peers recommend about Derby's commercialism?")
    assert [c.quote for c in commercial.citations] == [
        "Develop a clear approach to commercialism backed by a plan understood and owned by managers across the council."]
    assert "1 of its 11 key recommendations" in commercial.text and "mentioning commercialism" in commercial.text
    enterprising = assistant.ask("Which recommendations mention the Enterprising Council?")
    assert len(enterprising.citations) == 2 and all("Enterprising Council" in c.quote for c in enterprising.citations)
    # Some of the subject's words in no recommendation: those mentioning the others, and the answer says so.
    words = assistant.ask("What did peers recommend about Derby's commercialism and HS2?")
    assert words.text.startswith("No recommendation mentions HS2; those mentioning commercialism are listed.")
    assert len(words.citations) == 1
    # Asking how many were received is asking for all of them, with no note on "received".
    count = assistant.ask("How many recommendations did Derby receive?")
    assert count.text.startswith("**Derby City Council — 11 key recommendations") and len(count.citations) == 11

def test_a_subject_no_key_recommendation_mentions_is_answered_from_the_rest_of_the_report(settings, retriever):
    # Derbyshire's seven key recommendations never mention digital work; its section on capacity advises it.
    model = Draft("The peers recommended that DCC should prioritise its adoption of technology – for strategy "
                  "development, data and intelligence, and mobile operations [1].")
    digital = Assistant(settings, retriever, model=model).ask(
        "What did the peers recommend Derbyshire County Council do about digital technology?")
    assert digital.kind != "recommendations" and model.prompt and not digital.refused, digital.text
    assert digital.text.startswith("No key recommendation mentions digital, so the reports' other passages were "
                                   "searched. The peers recommended that DCC should prioritise"), digital.text
    # The model takes "recommended" from the question; a passage advising nothing makes it a finding.
    hs2 = Assistant(settings, retriever, model=Draft(
        "Peers recommended that HS2 will have a considerable impact on some parts of the county [1].")).ask(
        "What did peers recommend about HS2 in Derbyshire?")
    assert "No key recommendation mentions HS2" in hs2.text and not hs2.refused, hs2.text
    assert "The peers found that HS2 will have a considerable impact" in hs2.text


def test_a_list_the_report_introduces_is_given_whole_each_item_cited(settings, retriever):
    pledges = Assistant(settings, retriever, model=Draft("The reports do not say.")).ask(
        "What are Derby's Super Six pledges?")
    assert pledges.kind == "list" and len(pledges.citations) == 6, pledges.text
    assert "including the Super Six pledges of:" in pledges.text
    original = (settings.corpus_dir / pledges.citations[0].source_path).read_text(encoding="utf-8").splitlines()
    for c in pledges.citations:  # each item verbatim, at its own lines of the file (one item wraps)
        assert " ".join(original[c.line_start - 1:c.line_end]) == c.quote, c
    assert any(c.line_end == c.line_start + 1 for c in pledges.citations)
    # "These are the areas…:" names its list by the sentence before it ("…the following five questions…").
    five = Assistant(settings, retriever, model=Draft("The reports do not say.")).ask(
        "What five questions did the peer challenge consider?")
    assert five.kind == "list" and len(five.citations) == 5, five.text


def test_a_list_is_not_the_answer_to_a_question_about_it_or_about_a_whole_subject(settings, retriever):
    model = Draft("The reports do not say.")
    pledges = Assistant(settings, retriever, model=model).ask("What are Derby's Super Six pledges?")
    follow_up = Assistant(settings, retriever, model=model).ask("how are they monitored?", history=[pledges.scope])
    assert follow_up.kind != "list" and model.prompt, follow_up.text
    broad = Assistant(settings, retriever, model=Draft("The reports do not say.")).ask(
        "What did the peers say about Derbyshire's partnership boards?")
    assert broad.kind != "list", broad.text
    # The list after "…the Council Plan has 'unlock economic growth' as a priority area and … there is no
    # reference to a large range of indicators that might be expected such as:" is of indicators.
    priorities = Assistant(settings, retriever, model=Draft("The reports do not say.")).ask(
        "What are Derbyshire's priorities?")
    assert priorities.kind != "list", priorities.text

def test_recommendations_follow_the_document_kind_and_year_the_question_names(settings, retriever):
    press = Assistant(settings, retriever, model=Draft("The reports do not say.")).ask(
        "What were the key recommendations in Derby's press release?")
    assert press.kind == "list" and len(press.citations) == 4, press.text  # the press release's own four
    assert all(c.doc_id == "derby-city-2017-press-release" for c in press.citations)
    dated = Assistant(settings, retriever).ask("What did the 2018 report recommend?")
    assert dated.kind == "recommendations" and len(dated.citations) == 7 and "No recommendation" not in dated.text
    assert all(c.council == DERBYSHIRE for c in dated.citations)

def test_the_peer_team_is_listed_whole_each_line_cited_to_the_report(settings, assistant):
    answer = assistant.ask("Who was on the Derby peer team?")
    assert answer.kind == "team" and "8 peers" in answer.text, answer.text
    assert len(answer.citations) == 8 and all(c.council == DERBY for c in answer.citations)
    # The wrapped line of the original PDF text is one peer; each citation points at the file's own lines.
    isaacs = next(c for c in answer.citations if c.quote.startswith("Helen Isaacs"))
    assert isaacs.quote.endswith("North East Lincolnshire Council") and isaacs.line_end == isaacs.line_start + 1
    original = (settings.corpus_dir / isaacs.source_path).read_text(encoding="utf-8").splitlines()
    assert original[isaacs.line_start - 1].startswith("Helen Isaacs")
    follow_up = assistant.ask("What about Derbyshire?", history=[answer.scope])
    assert follow_up.kind == "team" and all(c.council == DERBYSHIRE for c in follow_up.citations)
    assert "Judith Hurcombe, LGA Peer Challenge Manager" in follow_up.text
    both = assistant.ask("How do Derby and Derbyshire compare on their peer teams?")
    assert both.kind == "team" and len(both.citations) == 16 and "no line" not in both.text, both.text


def test_a_post_on_the_peer_team_singles_out_its_holder(assistant):
    people = assistant.ask("Who was the People director on the Derby peer team?")
    assert [c.quote for c in people.citations] == ["Sally Rowe, Corporate Director: People, Luton Borough Council"]
    assert "1 of its 8 peers" in people.text
    # "she" is no word of anyone's post.
    isaacs = assistant.ask("What was Helen Isaacs' job when she sat on the Derby peer team?")
    assert [c.quote.split(",")[0] for c in isaacs.citations] == ["Helen Isaacs"] and not isaacs.refused, isaacs.text
    leaders = assistant.ask("Which council leaders sat on the Derby peer challenge team?")
    assert [c.quote.split(",")[0] for c in leaders.citations] == ["Cllr Phil Davies", "Cllr Chris Read"]
    # A follow-up about "them" is about the same team; "and what did they recommend?" is not.
    team = assistant.ask("Who was on the Derby peer team?")
    councillors = assistant.ask("Which of them were councillors?", history=[team.scope])
    assert councillors.kind == "team" and len(councillors.citations) == 3, councillors.text
    assert all(c.quote.startswith("Cllr") for c in councillors.citations)
    assert assistant.ask("and what did they recommend?", history=[team.scope]).kind == "recommendations"
    # No one's post mentions finance: the whole team is listed, and the answer says why.
    finance = assistant.ask("Who was the finance director on the Derby peer team?")
    assert len(finance.citations) == 8 and finance.refused
    assert "The reports do not say: no line of the team list mentions “finance”" in finance.text
    # Nor does the list say who led the team.
    led = assistant.ask("Who led the Derby peer team?")
    assert led.kind == "team" and led.refused and "mentions “led”" in led.text and len(led.citations) == 8


def test_the_team_list_of_a_newly_added_report_is_read(tmp_path):
    from assistant.config import Settings
    from assistant.store import build_index

    report = ("Peer challenge: Anytown Borough Council\n\nThe peer team\n"
              "Peer challenges are delivered by experienced elected member and officer peers. The\n"
              "make-up of the peer team reflected your requirements and the focus of the peer\n"
              "challenge. The peers who delivered the peer challenge at Anytown Borough Council\nwere:\n\n"
              "• Jane Doe, Chief Executive, Oldtown Council\n• Cllr John Roe, Leader, Newtown Council\n"
              "• Kim Loe, Director of Governance, Democracy and Community Engagement, North\n"
              "East Lincolnshire Council\n• LGA peer challenge manager: Sam Poe\n\nScope and focus\n"
              "The peer team looked at the council's finances and found them sound, with reserves well\n"
              "above the level the council's own policy sets and a plan that balances for three years.\n")
    settings = Settings(home=make_home(tmp_path, {"anytown.txt": report}))
    build_index(settings)
    answer = Assistant(settings).ask("Who was on the Anytown peer team?")
    assert [c.quote for c in answer.citations] == [
        "Jane Doe, Chief Executive, Oldtown Council", "Cllr John Roe, Leader, Newtown Council",
        "Kim Loe, Director of Governance, Democracy and Community Engagement, North East Lincolnshire Council",
        "LGA peer challenge manager: Sam Poe"]
    lines = report.splitlines()
    for c in answer.citations:  # each peer's lines of the file, the wrapped one both of its lines
        assert " ".join(lines[c.line_start - 1:c.line_end]) == "• " + c.quote

def test_an_ambiguous_question_asks_which_council(assistant):
    answer = assistant.ask("What did peers say about the council's accounts?")
    assert answer.kind == "clarify"
    assert DERBY in answer.text and DERBYSHIRE in answer.text


@pytest.mark.slow
def test_end_to_end_cited_answer_from_the_real_model(assistant):
    answer = assistant.ask("What did peers say about Derby's accounts?")
    assert not answer.refused, answer.raw
    assert answer.citations and all(c.council == DERBY for c in answer.citations)
    assert any("accounts" in c.text for c in answer.citations)
    for sentence in answer.sentences:  # every shown claim ("Peers found that …" without who says it) is
        cited = [c for c in answer.citations if c.n in sentence.citations]  # supported by what it cites
        claim = PEERS_SAID.sub("", sentence.text).strip() or sentence.text
        assert cited and any(support(claim, c.text).supported for c in cited), sentence.text
    for c in answer.citations:
        assert c.quote and c.quote in c.text


class Draft:
    """Stands in for the model where the test is about checking a given draft, not about writing one."""

    def __init__(self, text: str):
        self.text = text
        self.prompt = ""

    def stream(self, messages, max_tokens, temperature=0.0):
        self.prompt = messages[-1]["content"]
        yield self.text


class Drafts:
    """Stands in for the model with one draft per call, recording each prompt."""

    def __init__(self, *texts: str):
        self.texts = list(texts)
        self.prompts: list[str] = []

    def stream(self, messages, max_tokens, temperature=0.0):
        self.prompts.append(messages[-1]["content"])
        yield self.texts[len(self.prompts) - 1]


class Tokens:
    """Stands in for the model streaming the same draft word by word on every call, counting the words
    it was asked for."""

    def __init__(self, text: str):
        self.words = text.split(" ")
        self.read = self.calls = 0

    def stream(self, messages, max_tokens, temperature=0.0):
        self.calls += 1
        for i, word in enumerate(self.words):
            self.read += 1
            yield word if i == 0 else " " + word


def test_a_draft_repeating_itself_or_going_on_too_long_is_cut_short(settings, retriever):
    """The model stops being read at the first repeated sentence, or after the fourth sentence."""
    question = "What did peers say about Derbyshire's financial position?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, sentence = passage_sentence(passages, "reserves")
    repeated = "They also noted the council's finances [2]. "
    looping = Tokens(f"{sentence} [{n}]. " + repeated * 20)
    answer = Assistant(settings, retriever, model=looping).ask(question)
    assert answer.raw.count("finances") == 1, answer.raw
    # Read up to the first word of the sentence after the repeat.
    assert looping.read == len(f"{sentence} [{n}]. {repeated * 2}".split()) + 1
    long = Tokens(f"{sentence} [{n}]. " + " ".join(f"Point {i} is made [{n}]." for i in range(6)))
    answer = Assistant(settings, retriever, model=long).ask(question)
    assert answer.raw.count("Point") == 3 and long.read == len(f"{sentence} [{n}].".split()) + 3 * 5 + 1
    # Each draft for a side of a comparison is read up to its third sentence.
    sides = Tokens(" ".join(f"Point {i} is made [1]." for i in range(6)))
    Assistant(settings, retriever, model=sides).ask("How do Derby and Derbyshire compare on finance?")
    assert sides.calls >= 2 and sides.read == sides.calls * (2 * 5 + 1)


def passage_sentence(passages, *words: str) -> tuple[int, str]:
    """The number of a passage and one of its sentences that holds all the words."""
    return next((p.n, s.strip()) for p in passages for s in p.chunk.text.replace("\n", " ").split(". ")
                if all(w in s for w in words))


def found_sentence(retriever, question: str, *words: str) -> tuple[int, str]:
    """passage_sentence among the passages the question finds."""
    return passage_sentence(retriever.search_scope(retriever.analyse(question), k=5), *words)


def test_a_hedge_the_model_drops_is_shown_in_the_passage_s_own_words(settings, retriever):
    question = "Is staff morale holding up at Derby City Council?"
    n, _ = found_sentence(retriever, question, "beginning to wane")
    answer = Assistant(settings, retriever, model=Draft(f"Staff morale is beginning to wane [{n}].")).ask(question)
    assert "survey suggest that morale is beginning to wane" in answer.text, answer.text
    # A hedge on another clause of the sentence is not the claim's: "everything appears to be a priority,
    # officers are stretched".
    question = "Why do Derby's officers fire-fight rather than plan?"
    n, _ = found_sentence(retriever, question, "fire-fight")
    claim = ("Officers are stretched, and this contributes towards a tendency of some individuals to fire-fight "
             "issues rather than think about them strategically")
    answer = Assistant(settings, retriever, model=Draft(f"{claim} [{n}].")).ask(question)
    assert answer.text.startswith(claim), answer.text


def test_a_plan_is_not_shown_as_under_way():
    from assistant.verify import drops_hedge

    quote = ("An enterprising council strategy, setting out the key steps and actions, will be developed, which "
             "will be considered by the council’s Cabinet in the future.")
    assert drops_hedge("The enterprising council approach is being developed and considered by the council’s "
                       "Cabinet.", quote)
    assert not drops_hedge("An enterprising council strategy will be developed.", quote)
    # Asked to approve is not approved.
    quote = ("Cabinet members are being asked to approve a plan for becoming an Enterprising Council at the "
             "meeting next week.")
    assert drops_hedge("Cabinet approved the plan for becoming an Enterprising Council at the meeting next week.",
                       quote)


def test_the_peers_are_not_made_to_do_what_others_did(settings, retriever):
    question = "Which councils did Derbyshire visit for its learning disabilities work?"
    n, _ = found_sentence(retriever, question, "Milton Keynes")
    answer = Assistant(settings, retriever, model=Draft(
        f"The peer challenge team visited Derby and Milton Keynes councils for the learning disabilities work "
        f"stream [{n}].")).ask(question)
    assert "peer challenge team visited" not in answer.text and "members visited Derby and Milton Keynes" \
        in answer.text, answer.text
    # "They" after a sentence on the peers is the peers.
    question = "Which councils did Derbyshire officers visit to learn from?"
    n, _ = found_sentence(retriever, question, "Hampshire and Lancashire")
    answer = Assistant(settings, retriever, model=Draft(
        f"The peer team found that the council is learning from other councils [{n}]. They also visited Hampshire "
        f"and Lancashire County Councils for the assistive technology work stream [{n}].")).ask(question)
    assert "They also visited" not in answer.text and "officers have visited Hampshire" in answer.text, answer.text
    # Noting is the peers' own, "also" or not.
    from assistant.answer import peers_made_actors
    chunk = next(c for c in retriever.index.chunks if "external face of the council" in c.text)
    quote = "Despite this, more attention needs to be paid to the external face of the council."
    assert not peers_made_actors("The peers also noted that more attention needs to be paid to the external face "
                                 "of the council.", quote, chunk)
    # In the council's news story "we" is the council, not the peers.
    question = "Will Derbyshire look at trading services with other councils?"
    n, _ = found_sentence(retriever, question, "We will be looking")
    answer = Assistant(settings, retriever, model=Draft(
        f"Peers will be looking at sharing or trading services with other councils [{n}].")).ask(question)
    assert "Peers will" not in answer.text and "We will be looking" in answer.text, answer.text


def test_earlier_this_year_is_not_a_date_and_the_second_try_reads_the_dated_sentence(settings, retriever):
    """The press release says the peers visited Derby "earlier this year"; the report gives the dates."""
    question = "When did the peer team visit Derby?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    vague, _ = passage_sentence(passages, "earlier this year")
    dated, _ = passage_sentence(passages, "June 2017")
    model = Drafts(f"The peer team visited Derby earlier this year [{vague}].",
                   f"The peer team visited Derby on 13th – 16th June 2017 [{dated}].")
    answer = Assistant(settings, retriever, model=model).ask(question)
    assert len(model.prompts) == 2 and "June 2017" in model.prompts[1] and "earlier this year" not in model.prompts[1]
    assert not answer.refused and "13th – 16th June 2017" in answer.text, answer.text


def test_a_document_kind_a_council_never_published_widens_the_search_and_says_so(settings, retriever):
    """Derbyshire's documents are a report, a web page and a news story: no press release."""
    question = "What did the Derbyshire press release say about finances?"
    first = Assistant(settings, retriever, model=Draft("The reports do not say.")).ask(question)
    assert first.passages and all(p.chunk.council == DERBYSHIRE for p in first.passages)
    n, sentence = passage_sentence(first.passages, "reserves")
    answer = Assistant(settings, retriever, model=Draft(f"{sentence} [{n}].")).ask(question)
    assert answer.text.startswith("No press release from Derbyshire County Council is indexed, so the other "
                                  "documents were searched."), answer.text
    assert not answer.refused and "reserves" in answer.text  # the answer need not mention a press release


def test_an_answer_must_give_what_the_question_asks_for(settings, retriever):
    """A true, cited sentence about the right subject still does not answer "who" without a name, or
    "how much for 2019/20" with another year's figure."""
    question = "Who chairs Derby City Council's Audit Committee?"
    n, sentence = found_sentence(retriever, question, "Audit Committee")
    about = sentence.split("Audit Committee", 1)[1].split(" - ")[0].strip(" ,")
    answer = Assistant(settings, retriever, model=Draft(f"The Audit Committee {about} [{n}].")).ask(question)
    assert answer.refused and "gives no person or post" in answer.text, answer.raw

    question = "What is Derby City Council's net revenue budget for 2019/20?"
    n, sentence = found_sentence(retriever, question, "net revenue budget")
    answer = Assistant(settings, retriever, model=Draft(f"{sentence}. [{n}]")).ask(question)
    assert answer.refused and "not about 2019/20" in answer.text, answer.raw
    answer = Assistant(settings, retriever, model=Draft(f"{sentence}. [{n}]")).ask(
        "What is Derby City Council's net revenue budget for 2017/18?")
    assert not answer.refused and "£215m" in answer.text


def test_the_council_asked_about_is_not_the_name_a_who_question_wants(settings, retriever):
    question = "Who led the seven local partnerships in Derbyshire?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "led" in tokenize(retriever.context(p.chunk)))
    answer = Assistant(settings, retriever, model=Draft(
        f"The seven local partnerships for joined up care were led jointly by the Derbyshire County Council [{n}].")).ask(question)
    assert answer.refused and "gives no name" in answer.text, answer.text


def test_a_short_answer_is_checked_together_with_its_question(settings, retriever):
    question = "Who is the Leader of Derbyshire County Council?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "Barry Lewis" in p.chunk.text)
    answer = Assistant(settings, retriever, model=Draft(f"Barry Lewis [{n}]")).ask(question)
    assert not answer.refused and answer.text.startswith("Barry Lewis [1]")
    # A short answer's quote is the passage sentence that answers the question, not any that names the answer.
    question = "Which council's new risk strategy describes the organisation as 'risk embracing'?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "risk embracing" in p.chunk.text)
    answer = Assistant(settings, retriever, model=Draft(f"Derbyshire County Council [{n}]")).ask(question)
    assert not answer.refused and "risk embracing" in answer.citations[0].quote
    # The same name given as the answer to another role's question is not supported.
    question = "Who is the Chief Executive of Derbyshire County Council?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next((p.n for p in passages if "Barry Lewis" in p.chunk.text), 1)
    assert Assistant(settings, retriever, model=Draft(f"Barry Lewis [{n}]")).ask(question).refused
    # "Yes." alone says nothing that can be checked.
    assert Assistant(settings, retriever, model=Draft("Yes [1].")).ask(
        "Did Derby try to change how often it holds council elections?").refused


def test_a_comparison_searches_each_council_for_the_topic_alone(retriever):
    from assistant.answer import strip_council_names

    assert strip_council_names("How did Derby's finances compare with Derbyshire's according to the peer "
                               "reports?", retriever) == "finances"
    assert strip_council_names("Did both Derby and Derbyshire have staff sickness problems?",
                               retriever) == "staff sickness problems"
    assert strip_council_names("Derby vs DCC: accounts", retriever) == "accounts"


def test_a_supported_answer_to_another_question_is_refused(settings, retriever):
    """A verbatim passage sentence passes the citation check, but if it mentions none of what the question
    asks about it answers a different question, and the assistant says the reports do not say."""
    question = "What are Derbyshire County Council's car parking charges?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    asked = set(tokenize(question))
    n, other = next((p.n, s) for p in passages for s in p.chunk.text.split(". ")
                    if len(s.split()) > 6 and "\n" not in s and not asked & set(tokenize(s)))
    answer = Assistant(settings, retriever, model=Draft(f"{other}. [{n}]")).ask(question)
    assert answer.refused and answer.coverage is not None and answer.coverage < 0.1
    assert "does not mention car, parking or charges" in answer.text

    question = "What did peers say about Derby's accounts?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, sentence = next((p.n, s) for p in passages for s in p.chunk.text.split(". ") if "accounts" in s)
    answer = Assistant(settings, retriever, model=Draft(f"{sentence}. [{n}]")).ask(question)
    assert not answer.refused and answer.coverage >= 0.1


def test_a_sentence_beside_the_point_is_left_out(settings, retriever):
    question = "Which communities will be directly affected by HS2 construction in Derbyshire?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, hs2 = passage_sentence(passages, "Long Eaton")
    m, beside = passage_sentence(passages, "brave, bold")
    answer = Assistant(settings, retriever, model=Draft(f"{beside}. [{m}] {hs2}. [{n}]")).ask(question)
    assert not answer.refused and "Long Eaton" in answer.text and "brave" not in answer.text
    assert answer.off_topic == [f"{beside}."]
    assert "1 sentence of the model's draft was left out: not about the question." in draft_note(answer)


def test_a_one_word_topic_also_leaves_out_sentences_beside_the_point(settings, retriever):
    """"Commercialism" is one word to check against, and a sentence on the council's identity does not
    mention it; a sentence on the budget does mention "finances"."""
    question = "What did the peer team say about commercialism at Derbyshire?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, commercial = passage_sentence(passages, "commercially minded")
    m, beside = next((p.n, s.strip()) for p in passages for s in p.chunk.text.replace("\n", " ").split(". ")
                     if len(s.split()) > 8 and "commerci" not in s.lower() and "£" not in s)
    answer = Assistant(settings, retriever, model=Draft(f"{commercial}. [{n}] {beside}. [{m}]")).ask(question)
    assert not answer.refused and "commercially minded" in answer.text and beside not in answer.text
    assert answer.off_topic == [f"{beside}."]

    question = "What did peers say about Derbyshire's finances?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, budget = passage_sentence(passages, "budget reductions")
    answer = Assistant(settings, retriever, model=Draft(f"{budget}. [{n}]")).ask(question)
    assert not answer.refused and "budget reductions" in answer.text


def test_a_recommendation_is_not_shown_as_a_finding(settings, retriever):
    """The peers recommend "Consistently engage with key partnerships" because the council does not."""
    question = "What did the peer review say about Derby's partnerships?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "Consistently engage with key partnerships" in p.chunk.text)
    as_fact = "The council consistently engages with key partnerships and provides clarity to partners"
    as_advice = "Peers recommended that the council consistently engage with key partnerships"
    answer = Assistant(settings, retriever, model=Draft(f"{as_fact} [{n}]. {as_advice} [{n}].")).ask(question)
    assert not answer.refused and as_advice in answer.text and as_fact not in answer.text
    assert f"{as_fact}." in answer.removed


def test_the_question_s_subject_must_come_from_the_cited_passage(settings, retriever):
    """The model joins the question's subject to a figure from elsewhere: the words that make the answer
    about the question are not in the passage it cites, so it does not answer the question."""
    question = "How much did the Assembly Rooms redevelopment in Derby cost?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n = next(p.n for p in passages if "£5.98m" in p.chunk.text)
    assert "Assembly Rooms" not in retriever.context(passages[n - 1].chunk)
    answer = Assistant(settings, retriever, model=Draft(
        f"The Assembly Rooms redevelopment in Derby cost £5.98m of reserves [{n}].")).ask(question)
    assert answer.refused, answer.text


def test_template_text_is_left_out_of_the_prompt_unless_the_question_singles_it_out(settings, retriever):
    """Given the template's "Is there effective political and managerial leadership supported by good
    governance…?", the model states it as the peers' finding on governance."""
    from assistant.retrieval import Passage

    five_questions = next(c for c in retriever.index.chunks if c.council == DERBY and "five questions" in c.text)
    model = Draft("The reports do not say.")
    assistant = Assistant(settings, retriever, model=model)
    list(assistant.generate("What did peers say about governance at Derby?",
                            retriever.analyse("What did peers say about governance at Derby?"),
                            [Passage(five_questions, 1.0, 0, n=1)]))
    assert "supported by good governance" not in model.prompt
    assert "Delivering achievements under the council" in model.prompt  # Derby's own part stays

    adviser = next(c for c in retriever.index.chunks if c.council == DERBYSHIRE and "Mark Edgell" in c.text)
    question = "Who is the LGA Principal Adviser named in the Derbyshire report?"
    list(assistant.generate(question, retriever.analyse(question), [Passage(adviser, 1.0, 0, n=1)]))
    assert "Mark Edgell, Principal Adviser" in model.prompt


def test_keywords_reach_the_model_as_a_question(settings, retriever):
    """Given "Derby taxi licensing" as the question, the 1.5B model wrote about governance in general."""
    model = Draft("The reports do not say.")
    Assistant(settings, retriever, model=model).ask("Derby taxi licensing")
    assert "Question: What do the reports say about Derby taxi licensing?" in model.prompt
    Assistant(settings, retriever, model=model).ask("Which council overhauled taxi licensing")
    assert model.prompt.endswith("Question: Which council overhauled taxi licensing")


def test_passages_far_from_the_question_are_not_given_to_the_model(settings, retriever):
    """Passages sharing none of the question's words and further from it in meaning are shown, not read."""
    question = "What did peers say about taxi licensing at Derby?"
    model = Draft("The reports do not say.")
    answer = Assistant(settings, retriever, model=model).ask(question)
    read = [p for p in answer.passages if f"[{p.n}] (" in model.prompt]
    assert len(answer.passages) == settings.top_k and 0 < len(read) < len(answer.passages)
    assert all("taxi" in p.chunk.text.lower() for p in read)
    assert "taxi licensing has been overhauled" in model.prompt


def test_a_draft_that_fails_the_checks_is_tried_again_from_the_closest_sentences(settings, retriever):
    """Given five passages on Derby's governance, the 1.5B model wrote about a 'critical friend' from the
    press release, though a passage says what scrutiny does; given the closest sentences, it answers."""
    question = "What did the peers say about scrutiny in Derby?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, sentence = passage_sentence(passages, "Executive Scrutiny Board has an active forward plan")
    model = Drafts("This peer review has given us the opportunity to be challenged by a 'critical friend' [2].",
                   f"Peers found that underperforming measures are referred to scrutiny for challenge and the "
                   f"Executive Scrutiny Board has an active forward plan [{n}].")
    answer = Assistant(settings, retriever, model=model).ask(question)
    assert len(model.prompts) == 2
    assert "active forward plan" in model.prompts[1] and "critical friend" not in model.prompts[1]
    assert len(model.prompts[1]) < len(model.prompts[0]) / 2 and "decision making" not in model.prompts[1]
    assert not answer.refused and "forward plan" in answer.text, answer.text
    assert answer.citations[0].doc_id == passages[n - 1].chunk.doc_id


def test_the_second_try_gives_a_list_item_without_the_items_around_it(settings, retriever):
    """The report's bullets end without a stop: read as one sentence, the health and safety item came with the
    line on sickness absence data before it, and the 1.5B model answered from that line."""
    question = "derby city council health and safety"
    model = Drafts("There are doubts about the accuracy of sickness absence data [3].", "The reports do not say.")
    Assistant(settings, retriever, model=model).ask(question)
    assert len(model.prompts) == 2
    assert "approach to health and safety" in model.prompts[1] and "sickness absence" not in model.prompts[1]


def test_the_second_try_prefers_sentences_giving_what_the_question_asks_for(settings, retriever):
    """Many sentences mention the Leader; the one giving his name ranks fifth in the passages."""
    question = "Who is the Leader of Derby City Council?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, _ = passage_sentence(passages, "passionate about the city")
    model = Drafts(f"The Leader of Derby City Council is passionate about the city [{n}].", "The reports do not say.")
    Assistant(settings, retriever, model=model).ask(question)
    assert len(model.prompts) == 2 and "Ranjit Banwait" in model.prompts[1]


def test_no_second_try_when_no_sentence_is_close_to_the_question(settings, retriever):
    model = Drafts("Derbyshire County Council maintains 350 schools [1].", "unused")
    question = "How many schools does Derbyshire County Council maintain?"
    answer = Assistant(settings, retriever, model=model).ask(question)
    assert answer.refused and len(model.prompts) == 1


def test_a_who_question_wants_a_person_post_or_body_not_a_place():
    from assistant.verify import names_someone

    leader = "Who is the Leader of Derby City Council?"
    assert not names_someone("Following his appointment as Leader, he helped secure the HS2 station at Toton.",
                             leader)
    assert names_someone("Councillor Ranjit Banwait is the Leader.", leader)
    assert names_someone("The Leader is Ranjit Banwait.", leader)
    assert names_someone("The Leader of the Council played a key role.", "Who helped secure the HS2 station?")
    assert names_someone("It is chaired by the Strategic Director for Children's Services.", leader)
    board = "Who chairs Derbyshire's Health and Wellbeing Board?"
    assert not names_someone("The LGA's review of the Health and Wellbeing Board in 2014 was embraced.", board)
    # A post the reports write in lower case names who did it, unless the question already names it.
    section_24 = "Who issued the Section 24 recommendation?"
    assert names_someone("It was issued by the current external auditor in June 2017.", section_24)
    assert not names_someone("The external auditor raised concerns.", "What did the external auditor find?")


def test_asked_who_holds_a_post_the_answer_must_name_a_person():
    from assistant.verify import lacks_expected

    finance = "Who is Derby City Council's interim Director of Finance?"
    assert lacks_expected("A new interim Director of Finance was appointed, and the external auditors raised "
                          "issues in 2016.", "name", finance) == "person's name"
    assert lacks_expected("The Strategic Director chairs it.", "name",
                          "Who is the Leader of Derby City Council?") == "person's name"
    for named in ("The interim Director of Finance is Jane Smith.", "It is Cllr Banwait.",
                  "Councillor Ranjit Banwait is the Leader."):
        assert lacks_expected(named, "name", finance) == ""
    # Asked who did something, a post is an answer.
    assert lacks_expected("It was issued by the current external auditor.", "name",
                          "Who issued the Section 24 recommendation?") == ""


def test_asked_who_chairs_a_body_another_body_is_no_answer():
    from assistant.verify import lacks_expected

    question = "Who chairs Derbyshire's new Value for Money Board?"
    assert lacks_expected("The Value for Money Board is chaired by the Culture, Heritage and Tourism Board.", "name",
                          question) == "person or post"
    for named in ("It is chaired by the Leader of the Council.", "Cllr Lewis chairs the Value for Money Board.",
                  "It is chaired by the Strategic Director for Commissioning, Communities and Policy."):
        assert lacks_expected(named, "name", question) == "", named
    # Nor is a document anyone.
    assert lacks_expected("Derby City Council's external auditor is the Public Interest Report.", "name",
                          "Which accountancy firm is Derby City Council's external auditor?") == "name"
    assert lacks_expected("The external auditor, Grant Thornton, issued the Public Interest Report.", "name",
                          "Which accountancy firm is Derby City Council's external auditor?") == ""
    # Asked who runs something, a body is an answer.
    assert lacks_expected("They are run by the Leisure Trust Partnership.", "name",
                          "Who runs Derby's leisure centres?") == ""


def test_a_span_of_time_is_no_amount_and_money_is_no_count():
    from assistant.verify import lacks_expected

    overspend = "How much did Derbyshire overspend on its Young People's budget?"
    assert lacks_expected("It overspent in the last 2 years, mainly on placements.", "number", overspend) == "figure"
    assert lacks_expected("It overspent by £2.1m in the last 2 years.", "number", overspend) == ""
    assert lacks_expected("The peers spent more than 400 hours on site.", "number",
                          "How much time did the peers spend on site?") == ""
    responded = "How many people responded to Derbyshire's 2017/18 budget consultation?"
    assert lacks_expected("Budget reductions of £263m were managed, including £34m in 2017/18.", "number",
                          responded) == "count of people"
    assert lacks_expected("Over 3,000 people responded, and £2m of savings were proposed.", "number", responded) == ""


def test_a_year_is_not_the_figure_a_how_much_question_asks_for():
    from assistant.verify import lacks_expected

    cost = "How much did the Korn Ferry Hay Group leadership work cost Derbyshire County Council?"
    assert lacks_expected("The work was only launched in August 2018.", "number", cost) == "figure"
    assert lacks_expected("It was launched in 2018/19.", "number", cost) == "figure"
    assert lacks_expected("It cost £120,000 in 2018.", "number", cost) == ""
    assert lacks_expected("Budget cuts have been made since 2010.", "number",
                          "How long has Derby faced budget cuts?") == ""


def test_how_many_is_answered_by_a_count_of_what_it_asks_about():
    from assistant.verify import lacks_expected

    question = "How many grievances did Derby City Council staff raise in 2016?"
    vague = "Trade unions told of high numbers of staff grievances, which have increased over the last 2 years."
    assert lacks_expected(vague, "number", question) == "count of grievances"
    assert lacks_expected("Staff raised 40 grievances in 2016.", "number", question) == ""
    # An answer that counts in other words is left to the other checks.
    assert lacks_expected("The team had 8 peers.", "number", "How many people were on the team?") == ""


def test_another_financial_year_is_not_when_a_years_accounts_were_closed():
    from assistant.verify import lacks_expected

    question = "When did Derby City Council finally close its 2015/16 accounts?"
    assert lacks_expected("Closing the 2015/16 and 2016/17 accounts has been completed.", "date", question)
    assert not lacks_expected("The 2015/16 accounts were closed in March 2018.", "date", question)
    assert not lacks_expected("The gap is expected in 2021/22.", "date", "When is Derbyshire's budget gap expected?")


def test_asked_for_a_percentage_a_rank_or_a_count_is_no_answer():
    from assistant.verify import lacks_expected

    rate = "derbyshire council tax collection rate percentage 2017/18"
    assert lacks_expected("Its collection rate was ranked 16 out of 27 county councils.", "number",
                          rate) == "percentage"
    assert lacks_expected("Savings plan performance for 2017/18 was 93%.", "number", rate) == ""
    share = "What share of internal audit recommendations had Derbyshire not implemented?"
    assert lacks_expected("71 per cent of them had not been implemented.", "number", share) == ""
    assert lacks_expected("Over a fifth of absences are stress related.", "number", share) == ""
    assert lacks_expected("A report to CMT in 2018 listed 40 recommendations.", "number", share) == "percentage"
    assert lacks_expected("A report listed 40 recommendations.", "number", "How many recommendations?") == ""


def test_an_answer_sharing_one_word_with_the_question_must_be_close_to_it_in_meaning(settings, retriever):
    from assistant.retrieval import Passage

    chunk = next(c for c in retriever.index.chunks if "capital receipts flexibility" in c.text)
    passages = [Passage(chunk, 1.0, 0, n=1)]
    draft = "The council does not have an approved policy for using capital receipts flexibility [1]."
    assistant = Assistant(settings, retriever)
    question = "What is Derbyshire's policy on Gypsy and Traveller sites?"
    answer = assistant.check(question, retriever.analyse(question), passages, draft)
    assert answer.refused and "about something else" in answer.text, answer.text
    question = "What is Derbyshire's policy on using capital receipts?"
    assert not assistant.check(question, retriever.analyse(question), passages, draft).refused


def test_difficult_is_the_opposite_of_easy():
    passage = ("This makes it difficult to see in the round how well the council is performing across a range "
               "of key indicators.")
    assert support("It is difficult to see how well the council is performing across key indicators.",
                   passage).supported
    assert not support("The public can easily see how well the council is performing across key indicators.",
                       passage).supported


@pytest.mark.slow
def test_the_worked_example_asks_about_a_subject_the_reports_do_not_cover(retriever):
    """The model copies the example's answer when a question shares its subject (an example on scrutiny
    made "what did peers say about scrutiny?" come back with the example's sentences)."""
    from assistant.answer import EXAMPLES

    subject = set(tokenize(EXAMPLES[0]["content"].rsplit("Question:", 1)[1])) - set(tokenize("what did peers say"))
    assert subject and not any(subject & set(tokenize(c.text)) for c in retriever.index.chunks)


def test_an_unanswerable_question_is_refused(assistant):
    answer = assistant.ask("What is the salary of Derby's Chief Executive?")
    assert answer.refused
    assert answer.text.startswith("The reports do not say")


@pytest.mark.slow
def test_comparison_answers_each_council_side_by_side(assistant):
    answer = assistant.ask("How do Derby and Derbyshire compare on partnership working?")
    assert answer.kind in ("comparison", "refusal")
    assert f"**{DERBY}:**" in answer.text and f"**{DERBYSHIRE}:**" in answer.text
    councils = {p.chunk.council for p in answer.passages}
    assert councils == {DERBY, DERBYSHIRE}
    assert 0 < answer.timings["first_token"] < answer.timings["total"]  # when the first side began to appear


@pytest.mark.slow
def test_ask_cli_json_and_markdown_export(home, small_model_settings):
    runner = CliRunner()
    args = ["--home", str(home), "--model", small_model_settings.model, "ask"]
    result = runner.invoke(main, args + ["--json", "List the key recommendations for Derbyshire"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert set(data) >= {"answer", "citations", "refused"} and data["refused"] is False
    assert set(data["citations"][0]) >= {"n", "doc_id", "title", "council", "section", "text", "line_start", "line_end"}
    result = runner.invoke(main, args + ["--markdown", "List the key recommendations for Derbyshire"])
    assert "| # | Quote | Document | Section | Lines | Council | Date |" in result.output


def test_an_empty_question_gets_a_clear_error_not_an_answer(home):
    for question in ["  ", "?", " … "]:
        result = CliRunner().invoke(main, ["--home", str(home), "ask", question])
        assert result.exit_code != 0 and "question is empty" in result.output, question


def test_markdown_export_escapes_table_cells(assistant):
    answer = assistant.ask("List the key recommendations for Derbyshire")
    answer.citations[0].quote = "a | b"
    markdown = answer_markdown(answer)
    assert "a \\| b" in markdown and answer.question in markdown


def test_warm_up_loads_the_model_and_has_it_read_the_start_every_prompt_shares(small_model_settings, retriever):
    from assistant.answer import SYSTEM_PROMPT

    assistant = Assistant(small_model_settings, retriever)
    llama = assistant.model._llama
    llama.reset()  # forget what earlier tests left in the model's cache
    assistant.warm_up()
    assert llama.n_tokens > len(llama.tokenize(SYSTEM_PROMPT.encode()))  # kept for the next question


def test_a_failed_warm_up_is_logged_for_the_first_question_to_report(settings, caplog):
    from assistant.ui import Backend

    Backend(settings.replace(model="/no/such/model.gguf")).warm_up()  # must not raise in its thread
    assert "Could not load the models in advance" in caplog.text and "/no/such/model.gguf" in caplog.text


def test_a_question_naming_what_no_document_in_its_scope_mentions_is_refused_before_the_model(settings, retriever):
    """Passages found for "the Vision Derbyshire approach" are about the council's vision, and a small model
    answers from them as if they were on the approach the question names."""
    model = Draft("The council needs a clear vision [1].")
    answer = Assistant(settings, retriever, model=model).ask("What is the Vision Derbyshire approach?")
    assert answer.refused and "mentions “Vision Derbyshire”" in answer.text and not model.prompt, answer.text
    answer = Assistant(settings, retriever, model=model).ask("What did peers say about Infinity Park in Derbyshire?")
    assert answer.refused and "It appears only in Derby City Council" in answer.text, answer.text
    answer = Assistant(settings, retriever, model=model).ask("What did peers say about Nottingham City Council?")
    assert answer.refused and "No report on Nottingham City Council is indexed" in answer.text, answer.text
    question = "Derbyshire Children's Partnership: what is it?"
    n, sentence = found_sentence(retriever, question, "Locality")
    answer = Assistant(settings, retriever, model=Draft(f"{sentence} [{n}].")).ask(question)
    assert not answer.refused and "Derbyshire Children's Partnership" in answer.text, answer.text


def test_a_sentence_on_a_name_the_question_gives_must_cite_a_passage_mentioning_it(settings, retriever):
    """Asked about the Derby Plan, a sentence on the health service's Sustainability and Transformation
    Plan is beside the point, however well its passage supports it."""
    question = "What did peers say about the Derby Plan?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    other, sentence = passage_sentence(passages, "Sustainability and Transformation Plan")
    assert "Derby Plan" not in next(p for p in passages if p.n == other).chunk.text
    answer = Assistant(settings, retriever, model=Draft(f"{sentence} [{other}].")).ask(question)
    assert answer.refused and "do not mention “Derby Plan”" in answer.text, answer.text
    plan, sentence = passage_sentence(passages, "Re-establish the Derby Plan")
    answer = Assistant(settings, retriever, model=Draft(f"{sentence} [{plan}].")).ask(question)
    assert not answer.refused and "Re-establish the Derby Plan" in answer.text, answer.text


def test_peers_are_not_said_to_say_what_a_council_s_news_story_says(settings, retriever):
    question = "What did peers say about Derbyshire's libraries?"
    passages = retriever.search_scope(retriever.analyse(question), k=5)
    n, sentence = passage_sentence(passages, "library services")
    assert next(p for p in passages if p.n == n).chunk.kind == "news story"
    draft = Draft(f"Peers said that {sentence.lstrip('- ')} [{n}].")
    answer = Assistant(settings, retriever, model=draft).ask(question)
    assert answer.text.startswith("Derbyshire County Council's news story says that "), answer.text


def test_a_sentence_given_to_a_council_s_own_document_keeps_its_grammar(retriever):
    from assistant.answer import attributed

    release = [next(c for c in retriever.index.chunks if c.kind == "press release")]
    assert (attributed("Peers praised the Chief Executive for his track record.", release)
            == "Derby City Council's press release praised the Chief Executive for his track record.")
    assert (attributed("The peer team found that the council is ambitious.", release)
            == "Derby City Council's press release says that the council is ambitious.")


def test_any_question_restated_in_its_own_words_is_no_answer(settings, retriever):
    question = "How well does Derbyshire use data and performance information?"
    n, _ = found_sentence(retriever, question, "information")
    answer = Assistant(settings, retriever, model=Draft(
        f"Derbyshire uses data and performance information well [{n}].")).ask(question)
    assert "Derbyshire uses data and performance information well." in answer.removed, answer.text
    # The council a "which council" question asks for is what the answer tells, not the question's words.
    from assistant.answer import affirms_the_question
    assert not affirms_the_question("Derby City Council had its accounts signed off late",
                                    "Which council had its accounts signed off late?", [])


def test_a_yes_in_the_question_s_own_words_is_no_answer(settings, retriever):
    """A passage holding "good" and "council" is no evidence for "Yes, Derby is a good council"."""
    question = "Is Derby a good council?"
    n, _ = found_sentence(retriever, question, "good")
    answer = Assistant(settings, retriever, model=Draft(f"Yes, Derby is a good council [{n}].")).ask(question)
    assert answer.refused and "Yes, Derby is a good council." in answer.removed, answer.text
    question = "Does Derbyshire have a digital strategy?"
    n, _ = found_sentence(retriever, question, "digital")
    answer = Assistant(settings, retriever, model=Draft(f"Derbyshire has a digital strategy [{n}].")).ask(question)
    assert answer.refused and "Derbyshire has a digital strategy." in answer.removed, answer.text
    # A yes or no with the passage's own evidence stays, as does a "no" denying the question's premise.
    question = "Do all Derby councillors accept what the external auditor has found?"
    n, _ = found_sentence(retriever, question, "do not accept")
    answer = Assistant(settings, retriever, model=Draft(
        f"No, not all Derby councillors accept what the external auditor has found [{n}].")).ask(question)
    assert not answer.refused, answer.text
    question = "Did Derby close its accounts on time?"
    n, sentence = found_sentence(retriever, question, "not finalised")
    answer = Assistant(settings, retriever, model=Draft(f"No, {sentence} [{n}].")).ask(question)
    assert not answer.refused and answer.text.startswith("No, "), answer.text


def test_a_date_must_be_stated_about_what_the_question_asks(settings, retriever):
    """Two sentences after the Chief Executive's appointment, the report dates the auditor's report. (The
    support check now catches it first: the name and the date are in different sentences.)"""
    question = "When did Derby's Chief Executive start?"
    n, _ = found_sentence(retriever, question, "July 2016")
    answer = Assistant(settings, retriever, model=Draft(
        f"The Chief Executive of Derby City Council started in July 2016 [{n}].")).ask(question)
    assert answer.refused, answer.text
    question = "When did the peer team visit Derbyshire?"
    n, _ = found_sentence(retriever, question, "22nd-25th October 2018")
    answer = Assistant(settings, retriever, model=Draft(
        f"The peer team's on-site visit was on 22nd-25th October 2018 [{n}].")).ask(question)
    assert not answer.refused and "October 2018" in answer.text, answer.text


def test_a_figure_must_be_stated_about_what_the_question_asks(settings, retriever):
    """The net revenue budget is a true figure, but not how much Derby had to save; the year beside it
    (2017/18), which sentences on savings also give, does not make it one."""
    question = "How much money did Derby need to save?"
    n, sentence = found_sentence(retriever, question, "£215m")
    answer = Assistant(settings, retriever, model=Draft(f"{sentence} [{n}].")).ask(question)
    assert answer.refused and "figures the passages support are not stated about" in answer.text, answer.text
    question = "How much revenue funding has Derby lost since 2010?"
    n, sentence = found_sentence(retriever, question, "£135m")
    draft = Draft(f"Derby has lost £135m of revenue funding [{n}].")
    answer = Assistant(settings, retriever, model=draft).ask(question)
    assert not answer.refused and "£135m" in answer.text, answer.text
