"""What the claims step measured, and the verdicts the rules give it."""

from __future__ import annotations

from imdb_rnn.claims import ArchitectureClaims, ClaimsResult, claim_verdicts
from imdb_rnn.reporting.claims_tables import contradictions, measured_table


def _measured(name, curve, accuracy, parameters, norms=(1.0, 2.0)):
    return ArchitectureClaims(
        model=name,
        window=len(curve),
        gradient_curve=list(curve),
        synthetic={
            str(d): {"accuracy": a, "epochs": 1, "seconds": 0.1} for d, a in accuracy.items()
        },
        parameters=parameters,
        seconds_per_epoch=12.0,
        reviews_per_second=5000.0,
        gradient_norm_first=norms[0],
        gradient_norm_max=norms[1],
    )


def hand_made_result() -> ClaimsResult:
    decaying = [0.5**k for k in range(200)][::-1]  # span 7: short
    flat_end = [0.001] * 20 + [1.0] * 180  # span 180: long
    return ClaimsResult(
        distances=(10, 200),
        measured=[
            _measured("simple_rnn", decaying, {10: 0.99, 200: 0.5}, 1000, norms=(0.1, 50.0)),
            _measured("lstm", flat_end, {10: 1.0, 200: 0.95}, 4000),
            _measured("gru", flat_end, {10: 1.0, 200: 0.6}, 3000),
        ],
        seconds=1.0,
        reused=False,
    )


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
