"""What the claims step measured, and the verdicts the rules give it."""

from __future__ import annotations

from imdb_rnn.claims import claim_verdicts
from imdb_rnn.reporting.claims_tables import contradictions, measured_table
from tests.samples import hand_made_result


def test_claim_verdicts_say_which_claims_hold_with_the_evidence():
    verdicts = {(v["model"], v["claim"]): v for v in claim_verdicts(hand_made_result().measured)}
    assert verdicts[("gru", "memory")]["text"] == (
        "GRU: long memory: supported, span 180 of 200 positions (long means at least 100)"
    )
    assert verdicts[("simple_rnn", "memory")]["supported"] is True
    assert verdicts[("gru", "long_term")]["supported"] is False
    assert verdicts[("gru", "long_term")]["text"].startswith(
        "GRU: handles long-term dependency: yes: not supported, accuracy 0.600 at d=200"
    )
    assert verdicts[("lstm", "long_term")]["supported"] is True
    assert verdicts[("simple_rnn", "long_term")]["measured"] == "no"
    assert verdicts[("lstm", "complexity")]["supported"] is True
    assert "4,000 parameters" in verdicts[("lstm", "complexity")]["text"]
    gradients = verdicts[("simple_rnn", "gradients")]
    assert gradients["supported"] is True and "exploding: more than 100x" in gradients["text"]
    assert "vanishing: below 1 %" in gradients["text"]
    sentence = contradictions(hand_made_result().to_dict())
    assert sentence.startswith("This run's numbers contradict the notes on 1 of 10 claims")
    assert "GRU: handles long-term dependency: yes" in sentence


def test_a_failed_model_gets_a_row_but_no_verdicts():
    from dataclasses import replace

    result = hand_made_result()
    failed = replace(result.measured[2], gradient_curve=[], synthetic={}, failure="loss became nan")
    section = replace(result, measured=[*result.measured[:2], failed]).to_dict()
    row = section["rows"][2]
    assert row["status"] == "failed: loss became nan" and row["memory_span"] is None
    assert row["accuracy_d200"] is None and row["complexity"] is None
    assert not [v for v in section["verdicts"] if v["model"] == "gru"]
    assert measured_table(section)[1][2][:2] == ["GRU", "failed: loss became nan"]
