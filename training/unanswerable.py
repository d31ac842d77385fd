"""Examples of questions MedQuAD's public part cannot answer: medicines and supplements.

MedQuAD's drug answers (MedlinePlus drugs, herbs) were removed for copyright, so every drug
question is out of scope. We teach the model this class with templated questions over common
drug names, split by drug name so evaluation sees unseen drugs.
"""

from __future__ import annotations

import numpy as np

DRUGS = """
acetaminophen ibuprofen aspirin naproxen metformin insulin lisinopril amlodipine atorvastatin
simvastatin rosuvastatin levothyroxine omeprazole pantoprazole esomeprazole ranitidine famotidine
metoprolol atenolol propranolol carvedilol losartan valsartan hydrochlorothiazide furosemide
spironolactone warfarin apixaban rivaroxaban clopidogrel prednisone dexamethasone methylprednisolone
amoxicillin azithromycin ciprofloxacin doxycycline cephalexin clindamycin penicillin
sertraline fluoxetine citalopram escitalopram paroxetine venlafaxine duloxetine bupropion
trazodone mirtazapine amitriptyline nortriptyline gabapentin pregabalin tramadol oxycodone
hydrocodone morphine codeine fentanyl buprenorphine methadone alprazolam lorazepam clonazepam
diazepam zolpidem melatonin quetiapine olanzapine risperidone aripiprazole lithium lamotrigine
levetiracetam carbamazepine valproate topiramate phenytoin sumatriptan montelukast albuterol
fluticasone budesonide cetirizine loratadine diphenhydramine hydroxyzine pseudoephedrine
methotrexate hydroxychloroquine adalimumab etanercept infliximab allopurinol colchicine
alendronate tamsulosin finasteride sildenafil tadalafil estradiol progesterone
medroxyprogesterone clomiphene letrozole tamoxifen anastrozole pyridoxine folic acid
vitamin d vitamin b12 iron supplements calcium carbonate magnesium potassium chloride
zinc fish oil st john's wort ginkgo biloba echinacea valerian turmeric ginseng kava
glucosamine biotin niacin cyclobenzaprine baclofen tizanidine methocarbamol ondansetron
promethazine metoclopramide loperamide docusate senna lactulose mesalamine sulfasalazine
azathioprine tacrolimus cyclosporine mycophenolate digoxin amiodarone diltiazem verapamil
nitroglycerin isosorbide hydralazine clonidine doxazosin terazosin donepezil memantine
levodopa carbidopa ropinirole pramipexole modafinil methylphenidate amphetamine atomoxetine
"""

TEMPLATES = [
    "What are the side effects of {d}?",
    "What are the possible side effects of {d} ?",
    "How should {d} be used?",
    "How should I take {d}?",
    "What is the usual dose of {d}?",
    "What is the right dosage of {d} for an adult?",
    "What should I do if I forget a dose of {d}?",
    "What should I know about storage and disposal of {d}?",
    "How do I store {d}?",
    "What to do in case of emergency or overdose of {d}?",
    "What are the brand names of {d}?",
    "Who should get {d} and why is it prescribed?",
    "What is {d} prescribed for?",
    "What special precautions should I follow for {d}?",
    "What special dietary instructions should I follow with {d}?",
    "What is the most important information I should know about {d}?",
    "Can I take {d} with {e}?",
    "Does {d} interact with {e}?",
    "Is it safe to take {d} while pregnant?",
    "Can I take {d} while breastfeeding?",
    "Can I drink alcohol while taking {d}?",
    "How do I stop taking {d} safely?",
    "How should I taper off {d}?",
    "What are the ingredients in {d}?",
    "Is {d} safe for children?",
    "How long does it take for {d} to work?",
    "Who should not take {d}?",
    "i take {d} every day, is it ok to also take {e}",
    "my doctor prescribed {d}, how much should i take and when",
    "can {d} cause weight gain or hair loss",
    "where can I buy {d} and how much does it cost",
]


def drug_names() -> list[str]:
    text = " ".join(DRUGS.split())
    multi = [
        "folic acid", "vitamin d", "vitamin b12", "iron supplements", "calcium carbonate",
        "potassium chloride", "fish oil", "st john's wort", "ginkgo biloba",
    ]  # fmt: skip
    for name in multi:
        text = text.replace(name, "")
    return sorted(set(text.split()) | set(multi))


def drug_split(seed: int) -> dict[str, list[str]]:
    """Drug names split 70/10/20 into train/val/test."""
    names = np.array(drug_names())
    np.random.default_rng(seed).shuffle(names)
    n_test, n_val = int(len(names) * 0.2), int(len(names) * 0.1)
    return {
        "test": list(names[:n_test]),
        "val": list(names[n_test : n_test + n_val]),
        "train": list(names[n_test + n_val :]),
    }


def questions(drugs: list[str], seed: int, per_drug: int = 12) -> list[str]:
    """A sample of templated questions for each drug."""
    rng = np.random.default_rng(seed)
    out = []
    for d in drugs:
        for t in rng.choice(len(TEMPLATES), size=min(per_drug, len(TEMPLATES)), replace=False):
            other = drugs[int(rng.integers(len(drugs)))]
            out.append(TEMPLATES[t].format(d=d, e=other))
    return out


# Questions with nothing medical in them: the retriever's best similarity for these marks the
# level below which no answer can be trusted.
OFF_TOPIC = [
    "What is the capital of France?", "How do I fix a flat bicycle tire?",
    "Best pizza recipe with mozzarella", "Who won the football game yesterday?",
    "How do I install Python on Windows?", "Tell me a joke", "What time is it in Tokyo?",
    "How do I change the oil in my car?", "Recommend a good science fiction novel",
    "How tall is the Eiffel Tower?", "What is the exchange rate of the euro?",
    "How do I reset my router password?", "Where can I buy cheap plane tickets?",
    "What is the weather tomorrow?", "How do I bake sourdough bread?",
    "Who wrote Pride and Prejudice?", "How do I learn to play the guitar?",
    "What is the best phone to buy this year?", "How many planets are in the solar system?",
    "Can you help me write a cover letter?", "How do I grow tomatoes on a balcony?",
    "What movies are playing tonight?", "How do I file my taxes online?",
    "Translate hello into Spanish", "What is the square root of 144?",
    "How do I train my puppy to sit?", "Which programming language should I learn first?",
    "How do I paint a room quickly?", "What are the rules of chess?",
    "How long does it take to fly to London?",
]  # fmt: skip
