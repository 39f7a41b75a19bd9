"""Foundations every layer may use: configuration, logs, translations, errors, threads."""
