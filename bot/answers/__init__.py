"""Answering questions from the knowledge base: intent, entity linking, answer text."""

from bot.answers.engine import DEFAULT_THRESHOLD, AnswerEngine

__all__ = ["DEFAULT_THRESHOLD", "AnswerEngine"]
