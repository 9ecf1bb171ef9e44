"""Hybrid retrieval over the real corpus: names and figures findable, council scope respected, CLI output."""

from __future__ import annotations

import json

import numpy as np

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.retrieval import Filters, tokenize
from assistant.scope import analyse, build_councils, find_councils, names_asked

DERBY, DERBYSHIRE = "Derby City Council", "Derbyshire County Council"


@pytest.fixture(scope="module")
def councils():
    return build_councils([DERBY, DERBYSHIRE], {DERBYSHIRE: "Derbyshire County Council (DCC) is"})


def test_batched_vectors_keep_the_order_of_the_texts(retriever):
    """Indexing embeds texts longest first; each vector must still land beside its own text."""
    texts = ["Accounts.", "The external auditor issued a Section 24 notice about the council's accounts in June.",
             "Partnership working is mixed."] * 12  # more than one batch of 32
    together = retriever.embedder.encode(texts)
    for i in (0, 1, 2, 34, 35):
        alone = retriever.embedder.encode([texts[i]])[0]
        assert np.allclose(together[i], alone, atol=1e-4)
    assert not np.allclose(together[0], together[1], atol=1e-2)


def test_tokenize_keeps_numbers_and_money():
    assert "135m" in tokenize("a loss of £135m since 2010")
    assert {"section", "24"} <= set(tokenize("Section 24 notice"))
    assert tokenize("recommendations") == tokenize("recommendation")
    # "IT" is information technology, which the reports call ICT; "it" is a stop word.
    assert tokenize("What is wrong with Derbyshire's IT?") == tokenize("wrong Derbyshire's ICT")
    assert tokenize("Is it wrong?") == tokenize("wrong")
    # "doesn't" is "does not", not two rare words that outweigh the question's subject.
    assert tokenize("Which indicators doesn't Derbyshire report?") == tokenize("Which indicators does not Derbyshire report?")
    assert tokenize("It can’t, won't, isn't; we're sure they've") == tokenize("not not not sure")
    assert tokenize("managers dont trust income targets, it doesnt matter") == \
        tokenize("managers not trust income targets, it not matter")
    assert tokenize("important events they want") == ["import", "event", "want"]
    # A section of an Act however it is shortened.
    assert tokenize("S.75 agreements") == tokenize("s75 agreements") == tokenize("section 75 agreements")
    assert tokenize("the s. 151 officer") == tokenize("Section 151 officer")
    assert tokenize("the council's 50 pledges") == ["council", "50", "pledg"]
    # "Cllr Ranjit Banwait" in an answer is the report's "Councillor Ranjit Banwait".
    assert tokenize("Cllr Ranjit Banwait and two Cllrs") == tokenize("Councillor Ranjit Banwait and two councillors")


def test_a_contraction_adds_no_rare_word_to_the_question(retriever):
    scope = retriever.analyse("Which economic growth indicators did peers say Derbyshire doesn't report on?")
    assert set(retriever.question_terms(scope)) <= set(tokenize("economic growth indicators not report"))


@pytest.mark.parametrize("question, expected", [
    ("What did peers say about Derby's accounts?", [DERBY]),
    ("How is Derby City doing on finance?", [DERBY]),
    ("What did the city council do about taxi licensing?", [DERBY]),
    ("Is DCC financially sustainable?", [DERBYSHIRE]),
    ("What did the county council's peers think?", [DERBYSHIRE]),
    ("What does the county's report say about reserves?", [DERBYSHIRE]),
    ("Derbyshire's reserves", [DERBYSHIRE]),
    ("How do Derby and Derbyshire compare on partnership working?", [DERBY, DERBYSHIRE]),
    ("What is the Enterprising Council approach?", []),
])
def test_councils_are_detected_without_confusing_derby_and_derbyshire(councils, question, expected):
    assert analyse(question, councils).councils == expected


def test_comparisons_ambiguity_and_recommendation_intent(councils):
    assert analyse("How do Derby and Derbyshire compare on finance?", councils).comparison
    assert analyse("What did peers say about the council's finances?", councils).ambiguous
    assert not analyse("What did peers say about Derby's finances?", councils).ambiguous
    # Asking which council is a question for the reports, not one to ask back.
    assert not analyse("Which council's risk strategy calls it 'risk embracing'?", councils).ambiguous
    assert not analyse("Which of the two councils had their accounts signed off late?", councils).ambiguous
    listing = analyse("List the key recommendations on finance for Derbyshire", councils)
    assert listing.recommendations and "Financial planning and management" in listing.themes
    assert not analyse("What was the Section 24 recommendation?", councils).recommendations


def test_what_sort_of_answer_a_question_expects(councils):
    def read(question, history=None):
        scope = analyse(question, councils, history)
        return scope.expects, scope.periods

    assert read("How much did Derbyshire save in 2017-18?") == ("number", ["2017/18"])
    assert read("By how much did Derbyshire raise council tax for 2019/20?") == ("number", ["2019/20"])
    assert read("When was Derby's Local Plan adopted?") == ("date", [])
    assert read("What were the dates of the Derbyshire peer challenge visit?") == ("date", [])
    assert read("Who chairs Derby's Audit Committee?") == ("name", [])
    assert read("What did peers say about Derby's accounts?") == ("", [])
    assert read("Derby pledges - how many areas are protected from cuts?") == ("number", [])
    assert read("Derby new bus station cost?") == ("number", [])
    assert read("What did the new bus station cost?") == ("number", [])
    assert read("What did the peers say about the cost of agency staff?") == ("", [])
    assert read("Which energy company supplies Derby's energy tariff?") == ("name", [])
    assert read("Which services did Derbyshire review?") == ("", [])
    assert read("Which Derby cabinet member holds the finance portfolio?") == ("name", [])
    assert read("derbyshire council tax collection rate percentage 2017/18") == ("number", ["2017/18"])
    # A follow-up is read from its own words, not from the earlier question it carries as context.
    first = analyse("What is Derby's net revenue budget for 2017/18?", councils)
    assert read("How much of that came from reserves?", [first]) == ("number", [])


def test_follow_ups_inherit_or_swap_the_council(councils):
    first = analyse("What did peers say about Derby's partnership working?", councils)
    swapped = analyse("What about Derbyshire?", councils, [first])
    assert swapped.councils == [DERBYSHIRE]
    assert "partnership working" in swapped.query and "Derby's" not in swapped.query
    for question in ("Is it the same in Derbyshire?", "Is that true of Derbyshire too?"):
        swapped = analyse(question, councils, [first])
        assert swapped.councils == [DERBYSHIRE] and "partnership working" in swapped.query, question
    assert "partnership" not in analyse("What did they recommend for Derbyshire?", councils, [first]).query
    inherited = analyse("And what did they recommend?", councils, [first])
    assert inherited.councils == [DERBY] and inherited.inferred and inherited.recommendations
    # ... on the topic asked about before: partnership working is leadership of place.
    assert inherited.themes == ["Organisational and place leadership"]
    assert analyse("And what did they recommend on finance?", councils, [first]).themes == [
        "Financial planning and management"]
    # "Is that also true of…?" asks the question again of another council; "Compare them" and "Which one is
    # in a better position?" compare the councils of the last questions on the topic.
    derbyshire = analyse("Is that also true in Derbyshire?", councils, [first])
    assert derbyshire.councils == [DERBYSHIRE] and "partnership working" in derbyshire.query
    for question in ("Compare them", "Which one is in a better position?"):
        both = analyse(question, councils, [first, derbyshire])
        assert both.comparison and both.councils == [DERBY, DERBYSHIRE], question
        assert both.query == f"How do {DERBY} and {DERBYSHIRE} compare on partnership working?", question
    assert not analyse("What did both reports recommend?", councils, [first, derbyshire]).query.startswith("How do")
    # "Which of those…?" after the recommendations asks about them.
    listed = analyse("What did the peers recommend to Derbyshire?", councils)
    finance = analyse("Which of those are about finance?", councils, [listed])
    assert finance.recommendations and finance.councils == [DERBYSHIRE]
    assert finance.themes == ["Financial planning and management"]
    # "How does that compare with…?" compares the two councils on the topic asked about before.
    compared = analyse("How does that compare with Derbyshire?", councils, [first])
    assert compared.comparison and compared.councils == [DERBY, DERBYSHIRE]
    assert compared.query == f"How do {DERBY} and {DERBYSHIRE} compare on partnership working?"
    # A question naming no council carries the one before it when it refers back ("it"), whatever that named.
    enterprising = analyse("What is the Enterprising Council?", councils)
    launched = analyse("When was it launched?", councils, [enterprising])
    assert launched.follow_up and "Enterprising Council" in launched.query and launched.expects == "date"
    assert not analyse("Who was on the peer team?", councils, [enterprising]).follow_up


@pytest.mark.parametrize("query, must_contain", [
    ("Section 24", "Section 24"),
    ("£135m", "£135m"),
    ("Judith Hurcombe", "Judith Hurcombe"),
    ("Infinity Park", "Infinity Park"),
])
def test_names_and_figures_are_found(retriever, query, must_contain):
    passages = retriever.search(query, k=3)
    assert any(must_contain in p.chunk.text for p in passages), [p.chunk.chunk_id for p in passages]


def test_a_question_about_derby_gets_no_derbyshire_passages(retriever):
    scope = retriever.analyse("What did peers say about Derby's accounts?")
    passages = retriever.search_scope(scope, k=5)
    assert passages and all(p.chunk.council == DERBY for p in passages)
    assert any("accounts" in p.chunk.text for p in passages)


def test_explicit_filters(retriever):
    passages = retriever.search("partnership working", k=10, filters=Filters(kinds=["press release"]))
    assert passages and {p.chunk.kind for p in passages} == {"press release"}
    passages = retriever.search("partnership working", k=10, filters=Filters(years=[2018]))
    assert passages and {p.chunk.year for p in passages} == {2018}
    assert retriever.search("partnership", k=5, filters=Filters(councils=["No Such Council"])) == []


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_ranks_the_relevant_passage_first_for_a_plain_query(retriever, mode):
    passages = retriever.search("Ofsted judged children's services to be good", k=5, mode=mode)
    assert any("Ofsted" in p.chunk.text for p in passages[:3])
    assert [p.rank for p in passages] == list(range(len(passages)))


def test_search_cli_json_and_stdin(home):
    runner = CliRunner()
    result = runner.invoke(main, ["--home", str(home), "search", "--json", "-k", "2", "Section 24", "£135m"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [r["query"] for r in rows] == ["Section 24", "£135m"]
    first = rows[0]["results"][0]
    assert set(first) >= {"rank", "score", "text", "doc_id", "title", "council", "section", "start", "end",
                          "source_path", "line_start", "line_end"}
    result = runner.invoke(main, ["--home", str(home), "search", "--json", "--council", DERBYSHIRE],
                           input="partnership working\n\nreserves\n")
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and all(r["council"] == DERBYSHIRE for row in rows for r in row["results"])


def test_cli_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "search", "anything"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


def test_template_text_is_what_reports_on_different_councils_share(retriever):
    """The LGA's template (the questions every peer challenge considers) is recognised; a template
    sentence carrying the council's own figure, and the council's own findings, are not template."""
    from assistant.retrieval import is_template

    template = retriever.template
    assert is_template("Is there effective political and managerial leadership supported by good governance and "
                       "decision-making arrangements that respond to key challenges and enable change and "
                       "transformation to be implemented?", template)
    assert not is_template("Spoke to more than 160 people including a range of council staff together with "
                           "councillors and external partners and stakeholders.", template)
    assert not is_template("The absence of an established feedback loop on complaints means that the council is "
                           "not using this information to learn about where service improvements can be made",
                           template)


def test_a_passage_mostly_of_template_text_ranks_below_the_council_s_own_findings(retriever):
    passages = retriever.search_scope(retriever.analyse("What did the peer team say about governance at Derby?"), k=3)
    assert all(retriever.template_share[retriever.index.chunks.index(p.chunk)] < 0.5 for p in passages)
    assert any("governance" in p.chunk.section.lower() for p in passages), [p.chunk.section for p in passages]


def test_the_words_that_frame_a_question_are_not_searched_for():
    from assistant.scope import topic

    assert topic("What did the peer team say about governance at Derby?") == "governance at Derby?"
    assert topic("What did peers think of Derby's workforce?") == "Derby's workforce?"
    assert topic("Who were the peers on the Derbyshire peer challenge?") == (
        "Who were the peers on the Derbyshire peer challenge?")
    # Nor are the words asking for the answer's shape, or for an event as such.
    assert topic("Briefly, what did peers say about HR in Derby?") == "HR in Derby?"
    assert topic("Summarise the Derby report in three points") == "Summarise the Derby report"
    assert topic("When did the peer challenge at Derbyshire take place?") == "When did the peer challenge at Derbyshire ?"


def test_the_only_passage_holding_a_rare_word_keeps_its_keyword_score(retriever):
    """With one keyword match, that passage is the best of the keyword ranking, not the worst."""
    passages = retriever.search_scope(retriever.analyse("how Derby handles complaints?"), k=3)
    assert any("feedback loop on complaints" in " ".join(p.chunk.text.split()) for p in passages)


def test_a_word_naming_a_theme_is_mentioned_by_the_theme_s_words(retriever):
    finances = retriever.analyse("What did peers say about Derbyshire's finances?")
    budget = "The council managed budget reductions of £263m and holds high reserves."
    assert retriever.text_coverage(finances, [budget]) == 1.0
    assert retriever.missing_words(finances, [budget]) == []
    scrutiny = retriever.analyse("What did peers say about scrutiny in Derby?")
    assert retriever.text_coverage(scrutiny, ["Councillors on the Audit Committee need more training."]) == 0.0


def test_a_question_for_the_peers_verdict_is_answered_from_the_executive_summary(retriever):
    for question in ("What were the key findings for Derbyshire?", "Summarise the Derby peer review",
                     "What are Derby's strengths according to the report?", "What's wrong with Derby?"):
        scope = retriever.analyse(question)
        passages = retriever.search_scope(scope, k=5)
        assert scope.verdict and passages
        assert all("Executive Summary" in p.chunk.section for p in passages), question
        # With no topic to rank by, the summary is read in its own order, its overview first.
        assert [p.chunk.start for p in passages] == sorted(p.chunk.start for p in passages), question
        assert [p.n for p in passages] == list(range(1, len(passages) + 1))
    on_a_topic = retriever.search_scope(retriever.analyse("What were the key findings on Derby's budget?"), k=5)
    assert not all("Executive Summary" in p.chunk.section for p in on_a_topic)
    # "Wrong" asks for the peers' criticisms: the topic is what follows it.
    assert set(retriever.question_terms(retriever.analyse("What's wrong with Derbyshire's IT?"))) == {"ict"}


def test_words_naming_the_document_kind_the_filter_enforces_are_not_asked_of_the_answer(retriever):
    scope = retriever.analyse("What were the key findings listed in Derby's press release about the peer review?")
    assert scope.kinds == ["press release"]
    assert not {"press", "releas"} & set(retriever.question_terms(scope))


def test_asking_who_delivers_the_recommendations_is_not_asking_for_the_list(councils):
    assert not analyse("And who did he ask to deliver the recommendations?", councils).recommendations
    assert not analyse("When will Derby's recommendations be reviewed?", councils).recommendations
    assert analyse("What were Derby's key recommendations?", councils).recommendations
    # Nor is asking what the council did with them, which its own documents tell.
    assert not analyse("Did Derbyshire accept the recommendations?", councils).recommendations
    assert not analyse("What progress has Derby made on the LGA's recommendations?", councils).recommendations


def test_how_much_and_how_many_are_asked_for_as_a_figure_not_as_words(retriever):
    scope = retriever.analyse("How much did Derby have to save, and how many jobs went?")
    assert scope.expects == "number"
    assert not {"much", "mani", "many"} & set(retriever.question_terms(scope))


def test_the_words_saying_what_kind_of_answer_is_wanted_are_not_asked_of_it(retriever):
    share = retriever.analyse("What share of Derbyshire County Council services are already delivered by others?")
    assert share.expects == "number" and "share" not in retriever.question_terms(share)
    dates = retriever.analyse("What were the dates of the Derbyshire corporate peer challenge visit?")
    assert dates.expects == "date" and set(retriever.question_terms(dates)) == {"visit", "corpor", "challeng"}
    # Asked about, not asked for: "share" stays a topic word.
    assert "share" in retriever.question_terms(retriever.analyse("Did Derby share services with Derbyshire?"))


def test_asking_what_a_council_should_do_asks_for_the_recommendations(councils):
    next_steps = analyse("What should Derbyshire do next?", councils)
    assert next_steps.recommendations and next_steps.councils == [DERBYSHIRE]
    finances = analyse("What should Derby do about its finances?", councils)
    assert finances.recommendations and finances.themes == ["Financial planning and management"]
    assert analyse("What does Derby need to do to improve?", councils).recommendations
    assert not analyse("What did Derby do about its accounts?", councils).recommendations
    assert not analyse("Who should Derby contact?", councils).recommendations


def test_asking_who_was_on_a_peer_team_is_told_from_asking_what_the_team_did(councils):
    for question in ("Who was on the Derby peer team?", "List the members of the Derby City Council peer team",
                     "Which council leaders sat on the Derby peer challenge team?", "Who were the peers?",
                     "How many people were on the Derbyshire peer team?", "Who delivered the Derby peer challenge?",
                     "Which peers came from county councils on the Derbyshire team?", "List the peers",
                     "Who were the peer team for Derby?", "Who was on Derby's peer team?",
                     "What did the Derby peer team consist of?", "Who did the Derbyshire peer team include?",
                     "Which councils were the peers from?", "Where did the Derby peers come from?",
                     "Who took part in the Derby peer challenge?", "Who was the lead peer for Derbyshire?",
                     "Which councillors were peers at Derbyshire?", "Who carried out Derby's peer review?"):
        assert analyse(question, councils).team, question
    for question in ("What did the peer team find on Derby's finances?", "Who did the peer team meet?",
                     "What were the findings of the Derby peer team?", "How long was the peer team on site?",
                     "What was said in the Derby peer team's report?", "What did peers find in the Derby senior team?",
                     "Who did the peers speak to in Derby?", "What did Derby do in response to the peers?",
                     "What has changed in Derby since the peer team visited?", "Who was praised by the peers?",
                     "What did the peer team include in its report?"):
        assert not analyse(question, councils).team, question


def test_asking_how_a_council_responded_to_its_report_searches_its_own_documents(retriever):
    scope = retriever.analyse("What did Derby say in response to the report?")
    assert "peer challenge report" not in scope.kinds and "press release" in scope.kinds
    assert {p.chunk.kind for p in retriever.search_scope(scope, k=5)} == {"press release"}
    assert "respons" not in retriever.question_terms(scope)  # what is asked for, not a topic
    assert not retriever.analyse("What did peers say about how Derby responds to complaints?").kinds


def test_a_council_s_page_is_its_web_page(retriever):
    scope = retriever.analyse("According to the county council's corporate peer challenge page, what is the "
                              "Enterprising Council approach about?")
    assert scope.kinds == ["web page"]
    assert {p.chunk.kind for p in retriever.search_scope(scope, k=3)} == {"web page"}


def test_stable_and_stability_are_one_word():
    assert tokenize("stable") == tokenize("stability") and tokenize("liable") == tokenize("liability")


def test_on_site_is_the_reports_onsite_and_while_is_no_topic(retriever):
    assert tokenize("on site") == tokenize("on-site") == tokenize("onsite")
    scope = retriever.analyse("What did the Derbyshire peer team do while on site?")
    assert set(retriever.question_terms(scope)) == {"onsit"}


@pytest.mark.parametrize("question, names", [
    ("What is the Vision Derbyshire approach?", ["Vision Derbyshire"]),  # a council's short name inside a name
    ("Who is Derby City Council's Director of Public Health?", ["Director of Public Health"]),
    ("What did peers say about the Leader of Derbyshire?", []),  # the council's Leader
    ("Who was the Deputy Leader of Derby?", ["Deputy Leader"]),
    ("What did the LGA Principal Adviser say?", ["Principal Adviser"]),  # an acronym is a name of its own
    ("Derbyshire Children's Partnership: what is it?", ["Derbyshire Children's Partnership"]),
    ("Did peers mention COVID-19 in Derby?", ["COVID-19"]),
    ('Where does the report say "wartime spirit"?', ["wartime spirit"]),
    # A lone capitalised word, an acronym, a council, and a question in capitals throughout name nothing.
    ("Which Chinese city is Derby's Leader building links with?", []),
    ("Can Derby staff use Twitter and Facebook for work?", []),
    ("How do Derby and Derbyshire compare on SEND?", []),
    ("What Did Peers Say About Derby City Council Finances?", []),
    ("Was the LGA-led Review fair?", []),  # "LGA-led" describes the review
    ('What did peers say about "  "?', []),
    # A council not indexed is a name ("City Council" in it is not Derby's alias); one indexed is not.
    ("How did Nottingham City Council's peer challenge compare with Derby City's?", ["Nottingham City Council"]),
    ("Which peer came from Wirral Council?", ["Wirral Council"]),
    ("What did Derby Council do about its accounts?", []),
    ("When was Derbyshire's Enterprising Council approach launched?", ["Enterprising Council"]),  # an idea
    ("What's Derbyshire doing about adult social care costs?", []),
    ("Derbyshire HS2", ["HS2"]),
    ("Thriving Communities Derbyshire", ["Thriving Communities"]),  # the council a keyword query ends with
    ("Was the Derby Leader re-elected?", []),
])
def test_the_names_a_question_gives(councils, question, names):
    assert names_asked(question, councils) == names


def test_which_council_is_more_something_compares_the_councils_side_by_side(councils):
    bigger = analyse("Which council had the bigger reserves?", councils)
    assert bigger.comparison and bigger.councils == [DERBY, DERBYSHIRE]
    assert bigger.query == f"How do {DERBY} and {DERBYSHIRE} compare on reserves?"
    for question in ("Which council's new risk strategy calls it 'risk embracing'?",
                     "Which council had its accounts signed off late?"):
        assert not analyse(question, councils).comparison, question


def test_city_council_inside_another_council_s_name_does_not_name_the_city_council(councils):
    assert analyse("What did peers say about Nottingham City Council?", councils).councils == []
    assert analyse("Did Derbyshire Dales District Council work with DCC?", councils).councils == [DERBYSHIRE]
    assert find_councils("Kersten England, Chief Executive, Bradford City Council", councils) == []
    assert names_asked("Did Nottingham City Council close its accounts?", councils) == ["Nottingham City Council"]
    assert names_asked("What City Council runs Derby?", councils) == []
    for question in ("Is the City Council in good shape?", "What did Derby Council do about its accounts?",
                     "What does the city council say about HS2?"):
        assert analyse(question, councils).councils == [DERBY], question


def test_a_name_is_found_where_its_words_stand_together(retriever):
    assert {d.council for d in retriever.mentioning("Infinity Park")} == {DERBY}
    assert retriever.mentioning("Locality Children's Partnership")  # the reports have the plural
    assert not retriever.mentioning("Vision Derbyshire")  # both words are in the reports, never together
    # The word for what kind of body or document it is may differ (the report has a Medium Term Financial
    # Strategy), and a name may be given by its initials (CMT).
    assert {d.council for d in retriever.mentioning("Medium Term Financial Plan")} >= {DERBY}
    assert not retriever.mentioning("Medium Term Financial Plan", loosely=False)
    assert {d.council for d in retriever.mentioning("Corporate Management Team")} == {DERBYSHIRE}
    assert not retriever.mentioning("Director of Public Health")


def test_an_acronym_a_report_spells_out_stands_for_its_words(retriever):
    assert retriever.acronyms["mtfs"] == "Medium Term Financial Strategy"
    assert retriever.acronyms["stp"] == "Sustainability and Transformation Plan"
    # Derby's report writes the words, Derbyshire's the acronym: either answers the other.
    scope = retriever.analyse("derby city council MTFS - which years does it cover?")
    assert retriever.text_coverage(scope, ["The 3 year Medium Term Financial Strategy for 2016/17-2018/19."]) > \
        retriever.text_coverage(scope, ["The 3 year plan for 2016/17-2018/19."])
    found = retriever.search_scope(scope, k=3)
    assert any("Medium Term Financial Strategy for 2016/17" in " ".join(p.chunk.text.split()) for p in found)


def test_a_misspelt_word_is_read_as_the_report_word_it_is_one_slip_from(retriever):
    scope = retriever.analyse("Are more Derby City staff raising grievences than before?")
    assert "grievances" in scope.query and scope.question.endswith("grievences than before?")
    assert "read as" in scope.describe()
    assert retriever.respell("Is Derbysire's finacial position sound?") == "Is Derbyshire's financial position sound?"
    # Two letters swapped are one slip.
    assert retriever.respell("derby city council health and saftey") == "derby city council health and safety"
    # Real words the reports do not use, short words, and slips with two readings are left alone.
    for question in ("What about flooding in Derby?", "What about trams?", "What needs to change about the audit committe?",
                     "What positives did peers see?"):
        assert retriever.respell(question) == question
