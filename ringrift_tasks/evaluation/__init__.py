"""Evaluation: matches, tournaments, Elo, promotion-gate statistics."""
