"""Consumer-style phrasings of each question category, filled with training-split foci.

MedQuAD's questions are templates ("What are the treatments for X ?"); people write "my mother
was just diagnosed with X, is there anything that helps?". These generic phrasings, written by
hand (not taken from any evaluation set), teach the head the consumer register.
"""

from __future__ import annotations

import numpy as np

OPENERS = [
    "", "", "", "Hello, ", "Hi, ", "Please help. ", "I was recently diagnosed with {f}. ",
    "My mother has {f}. ", "My husband was told he has {f}. ", "My son has {f}. ",
    "My doctor says I have {f}. ", "I am 45 and have {f}. ", "My friend has {f}. ",
]  # fmt: skip

PHRASES: dict[str, list[str]] = {
    "treatment": [
        "what is the best treatment for {f}?", "how can {f} be cured?", "is there a cure for {f}?",
        "what can be done for {f}?", "what are the treatment options for {f}",
        "are there any new treatments or clinical trials for {f}?", "how do I get rid of {f}",
        "what medicine helps with {f}?", "can surgery fix {f}?", "what doctor treats {f} and how",
        "is there anything that helps with {f}?", "how do you manage {f}?",
        "what therapies are available for {f}", "what can I do to feel better with {f}?",
        "what foods or diet should I follow for {f}?",
    ],
    "information": [
        "can you send me information about {f}?", "what is {f}?", "I would like to know more about {f}",
        "please tell me everything about {f}", "where can I find literature on {f}?",
        "what does it mean to have {f}?", "I need information on {f}", "explain {f} to me",
    ],
    "causes": [
        "what causes {f}?", "why did I get {f}?", "how does someone get {f}?",
        "what is the reason for {f}?", "could stress or diet cause {f}?", "how did my child get {f}?",
    ],
    "symptoms": [
        "what are the signs of {f}?", "how do I know if I have {f}?", "what does {f} feel like?",
        "what symptoms does {f} cause?", "is pain a symptom of {f}?", "what are early warning signs of {f}",
    ],
    "exams and tests": [
        "how is {f} diagnosed?", "what test shows {f}?", "how can my doctor check for {f}?",
        "do I need a blood test or scan for {f}?", "how do doctors confirm {f}?",
    ],
    "outlook": [
        "what is the life expectancy with {f}?", "will {f} go away?", "is {f} fatal?",
        "what is the prognosis for {f}?", "can you live a normal life with {f}?",
        "will my child recover from {f}?", "does {f} get worse over time?",
    ],
    "prevention": [
        "how can I prevent {f}?", "how do I avoid getting {f}?", "is there a vaccine for {f}?",
        "what can I do to lower my risk of {f}?",
    ],
    "inheritance": [
        "is {f} hereditary?", "can I pass {f} to my children?", "does {f} run in families?",
        "is {f} genetic?", "will my kids get {f} if I have it?",
    ],
    "genetic changes": [
        "what gene causes {f}?", "which mutation is responsible for {f}?",
        "what genetic change leads to {f}?",
    ],
    "frequency": [
        "how common is {f}?", "how many people have {f}?", "is {f} rare?",
    ],
    "susceptibility": [
        "who is at risk for {f}?", "who gets {f}?", "am I at risk of {f}?",
    ],
    "complications": [
        "what complications can {f} cause?", "can {f} lead to other problems?",
        "what happens if {f} is not treated?",
    ],
    "research": [
        "is there any new research on {f}?", "what studies are being done on {f}?",
    ],
    "stages": [
        "what are the stages of {f}?", "what stage is my {f}?",
    ],
}  # fmt: skip


def paraphrases(foci: list[str], labels: set[str], seed: int, per_focus: int = 2) -> tuple:
    """(texts, labels): `per_focus` consumer-style questions for each focus, random categories."""
    rng = np.random.default_rng(seed)
    cats = [c for c in PHRASES if c in labels]
    texts, ys = [], []
    for focus in foci:
        for _ in range(per_focus):
            cat = cats[int(rng.integers(len(cats)))]
            phrase = PHRASES[cat][int(rng.integers(len(PHRASES[cat])))]
            opener = OPENERS[int(rng.integers(len(OPENERS)))]
            texts.append((opener + phrase).format(f=focus.lower()).capitalize())
            ys.append(cat)
    return texts, ys
