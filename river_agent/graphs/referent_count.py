"""Whether a request is about one object or about several, read from its words.

"Paint the car that stops red" and "the quicker of the two" name one object; "remove all the balls", "every
pink thing should be bigger" and "get rid of them" name several. Sampled programs that answer a one-object
request with a list of five ids have misread it; the rollout's vote uses this to prefer programs whose answer
has the request's number. A small English lexicon, not a model: quantifiers and plural pronouns mark several
objects; partitives ("the fastest of the things in motion", "the quicker of the two", "the nearest of them")
still name one. A plural noun without a quantifier ("remove the red cars") is not recognised: such a request
counts as one object, so where a single-id program and a many-id program disagree the single one is preferred.
"""

from __future__ import annotations

import re

# "the quicker of the two", "the fastest of all", "the nearest of them", "one of those that leave": the group
# a superlative, comparative or ordinal picks one from ("get rid of them" is no partitive)
_PARTITIVE = re.compile(
    r"\b(?:\w+est|\w+er|one|first|last|second|third|either|neither|which)\s+of\s+(?:all\s+)?"
    r"(?:the|those|these|them|all|its|their)\b(?:\s+\w+)?"
)
_SEVERAL = re.compile(
    r"\b(?:all|every|each|both|everything|everyone|everybody|they|them|those|these|several|many)\b"
)


def asks_for_one(query: str) -> bool:
    """True when the request names a single object (no quantifier or plural pronoun outside a partitive)."""
    text = _PARTITIVE.sub(" ", query.lower())
    return _SEVERAL.search(text) is None
