"""What a user runs: the imdb-rnn command (run, report, predict, serve) and its re-run check."""
