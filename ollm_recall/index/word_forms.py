"""Irregular English word forms that a suffix stemmer cannot join to their base: "led" / "lead",
"bought" / "buy", "children" / "child". Applied before the stem, to the index and the questions alike.

Forms that are also common words of another meaning are left out on purpose ("left", "saw", "found",
"felt", "bit", "ground", "rose", "fell", "lay", "spoke", "wound", "bound"...): joining them would make a
question about the left sidebar find every session where someone left.
"""

from __future__ import annotations

import functools

from whoosh.lang.porter import stem as porter_stem

_VERBS = """
arise arose arisen; awake awoke awoken; be was were been; bear bore borne; beat beat beaten;
become became become; begin began begun; bend bent; bet bet; bite bitten; bleed bled; blow blew blown;
break broke broken; breed bred; bring brought; build built; burn burnt; buy bought; catch caught;
choose chose chosen; cling clung; come came come; creep crept; deal dealt; dig dug; do did done;
draw drew drawn; dream dreamt; drink drank drunk; drive drove driven; eat ate eaten; feed fed;
fight fought; flee fled; fly flew flown; forbid forbade forbidden; forget forgot forgotten;
forgive forgave forgiven; freeze froze frozen; get got gotten; give gave given; go went gone;
grind ground; grow grew grown; hang hung; have had; hear heard; hide hid hidden; hold held;
keep kept; kneel knelt; know knew known; lead led; lean leant; leap leapt; learn learnt; lend lent;
lose lost; make made; mean meant; meet met; overcome overcame; overtake overtook overtaken;
pay paid; prove proven; rewrite rewrote rewritten; ride rode ridden; ring rang rung; rise risen;
run ran; seek sought; sell sold; send sent; sew sewn; shake shook shaken; shine shone; shoot shot;
show shown; shrink shrank shrunk; sing sang sung; sink sank sunk; sit sat; sleep slept; slide slid;
speak spoken; speed sped; spend spent; spill spilt; spin spun; spit spat; split split; spread spread;
spring sprang sprung; stand stood; steal stole stolen; stick stuck; sting stung; stink stank stunk;
strike struck stricken; strive strove striven; swear swore sworn; sweep swept; swim swam swum;
swing swung; take took taken; teach taught; tell told; think thought; throw threw thrown;
understand understood; undo undid undone; upset upset; wake woke woken; wear wore worn; weave wove woven;
weep wept; win won; withdraw withdrew withdrawn; write wrote written; mistake mistook mistaken;
misunderstand misunderstood; undergo underwent undergone; withhold withheld; uphold upheld
"""

_NOUNS = """
child children; person people; man men; woman women; mouse mice; foot feet; tooth teeth; goose geese;
analysis analyses; basis bases; crisis crises; diagnosis diagnoses; hypothesis hypotheses;
thesis theses; criterion criteria; phenomenon phenomena; index indices; matrix matrices;
vertex vertices; appendix appendices; datum data; medium media; life lives; knife knives; wife wives;
leaf leaves; half halves; shelf shelves; wolf wolves; thief thieves
"""


def _table() -> dict[str, str]:
    base_of: dict[str, str] = {}
    for text in (_VERBS, _NOUNS):
        for group in text.split(";"):
            words = group.split()
            for form in words[1:]:
                if form != words[0]:
                    base_of[form] = words[0]
    return base_of


BASE_FORMS = _table()


def base_form(word: str) -> str:
    """The base form of an irregular word (lower case in, lower case out), else the word itself."""
    return BASE_FORMS.get(word, word)


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter's stem of a lower-case word, from its base form when it is irregular ("bought" and
    "buying" meet): the one stemming of the index and of the snippets' highlights."""
    return porter_stem(base_form(word))
