"""Full-text index tokenizers: Qdrant's word / whitespace / prefix tokenizers and token processing.

Document tokens (what the index stores per string) and query tokens (what ``match.text`` looks
up) are produced as in Qdrant's ``tokenizers/mod.rs`` and ``tokens_processor.rs``:

* word: split on every character that is not alphanumeric; whitespace: split on whitespace;
* each token: ASCII-fold (if enabled), lower-case (default on), drop stopwords, drop tokens
  shorter than ``min_token_len`` or longer than ``max_token_len`` characters;
* prefix tokenizer, documents: each word (processed, but not length-capped) becomes its prefixes
  of ``min_token_len`` (default 1) .. ``max_token_len`` characters, the whole word once it is
  shorter; queries: each word is folded and lower-cased (stopwords are *not* removed, so a query
  may be a prefix of a stopword), dropped if shorter than ``min_token_len``, and cut to
  ``max_token_len`` characters.

Python's ``str.isalnum``/``str.split`` stand in for Rust's ``char::is_alphanumeric`` /
``split_whitespace``; they agree on letters and digits of every script except combining marks
(Rust counts marks with the Alphabetic property as alphanumeric).
"""

from __future__ import annotations

import re

from ._ascii_folding import fold_to_ascii
from .schema import TextSpec

_ALNUM_RUN = re.compile(r"[^\W_]+")


class TextTokenizer:
    def __init__(self, spec: TextSpec) -> None:
        self.spec = spec
        self._split = str.split if spec.tokenizer == "whitespace" else _ALNUM_RUN.findall

    def _process(self, token: str, check_max_len: bool) -> str | None:
        spec = self.spec
        if not token:
            return None
        if spec.ascii_folding:
            token = fold_to_ascii(token)
        if spec.lowercase:
            token = token.lower()
        if token in spec.stopwords:
            return None
        if spec.min_token_len is not None and len(token) < spec.min_token_len:
            return None
        if check_max_len and spec.max_token_len is not None and len(token) > spec.max_token_len:
            return None
        return token

    def doc_tokens(self, text: str) -> list[str]:
        """The tokens an index stores for ``text``, in order (phrases need the order)."""
        if self.spec.tokenizer == "prefix":
            return self._prefix_doc(text)
        out = []
        for word in self._split(text):
            token = self._process(word, True)
            if token is not None:
                out.append(token)
        return out

    def query_tokens(self, text: str) -> list[str]:
        """The tokens ``match.text`` / ``text_any`` look up (phrases use ``doc_tokens``)."""
        if self.spec.tokenizer != "prefix":
            return self.doc_tokens(text)
        spec = self.spec
        out = []
        for word in _ALNUM_RUN.findall(text):
            if spec.ascii_folding:
                word = fold_to_ascii(word)
            if spec.lowercase:
                word = word.lower()
            if spec.min_token_len is not None and len(word) < spec.min_token_len:
                continue
            if spec.max_token_len is not None:
                word = word[: spec.max_token_len]
            out.append(word)
        return out

    def _prefix_doc(self, text: str) -> list[str]:
        spec = self.spec
        low = 1 if spec.min_token_len is None else spec.min_token_len
        high = spec.max_token_len
        out = []
        for word in _ALNUM_RUN.findall(text):
            token = self._process(word, False)
            if token is None:
                continue
            n = low
            while high is None or n <= high:
                if len(token) > n:
                    out.append(token[:n])
                else:
                    out.append(token)
                    break
                n += 1
        return out
