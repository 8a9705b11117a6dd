"""imdb-rnn: train and compare recurrent sentiment models on the IMDb reviews."""

__version__ = "0.3.0"
