"""Retrieval: read and chunk corpora, embed, index with FAISS, search, sample and find near-duplicates.

Works on texts and vectors only; it knows nothing about questions.
"""
