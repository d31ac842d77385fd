"""Messages written for the urgency tests (not taken from `messages.csv`), shared by the rule
tests (no TensorFlow) and the API tests (the fixture-trained model)."""

# One urgent and one non-urgent message per category, in lay words.
CASES = {
    "stroke": (
        "my grandad's mouth is hanging down on the left and he can't lift his left arm, started 15 min ago",
        "my grandad had a stroke three years ago, what exercises help with his weak left hand?",
    ),
    "heart_attack": (
        "my husband 58 has a heavy crushing pain in the middle of his chest going into his jaw, he is grey and sweating",
        "how long after cardiac rehab can my father start swimming again",
    ),
    "anaphylaxis": (
        "my son ate a cashew and now his lips and tongue are swelling and he is wheezing",
        "what is the difference between a food intolerance and a food allergy",
    ),
    "breathing": (
        "my 2 year old is breathing really fast, the skin between his ribs sucks in and he can't talk",
        "how do I clean my asthma spacer and how often should it be replaced",
    ),
    "bleeding": (
        "I have been throwing up what looks like coffee grounds and my poo is black and sticky, feel dizzy",
        "my poo went a bit red after eating beetroot yesterday, I feel totally fine",
    ),
    "poisoning_overdose": (
        "my friend swallowed about 40 paracetamol tablets an hour ago after a breakup",
        "what is the maximum dose of paracetamol per day for an adult",
    ),
    "self_harm": (
        "i have the pills lined up and i'm going to take them all tonight, i've written goodbye letters",
        "what are the suicide rates in young men compared to women, for a school essay",
    ),
    "seizure": (
        "my wife has been shaking and jerking on the floor for 7 minutes and isn't stopping",
        "can I drive if my epilepsy has been controlled for two years?",
    ),
    "head_injury": (
        "my son fell off his bike and hit his head, now he has been sick twice and is very sleepy and confused",
        "what is the best helmet for a kid learning to ride a bike",
    ),
    "meningitis_sepsis": (
        "my daughter has a high fever and purple spots that don't fade when I press a glass on them",
        "which vaccines protect against meningitis and when are they given",
    ),
    "infant_fever": (
        "my baby is 5 weeks old and his temperature is 38.4, he is feeding less",
        "my 3 year old has a temperature of 38 with a cold but is playing normally, how much calpol can she have",
    ),
    "pregnancy": (
        "I'm 30 weeks pregnant with a terrible headache, flashing lights in my eyes and my face and hands swelled up today",
        "is it safe to eat soft cheese while pregnant",
    ),
    "diabetic": (
        "my type 1 daughter's sugar is 28, she keeps vomiting, breathing deeply and her breath smells like pear drops",
        "what is a good HbA1c target for someone with type 2 diabetes",
    ),
    "vision_loss": (
        "a dark curtain came down over the vision in my right eye an hour ago and I can't see from it",
        "I have had the same few floaters in my eyes for 10 years, is that normal",
    ),
    "testicular": (
        "my 14 year old woke up with sudden agonising pain in one testicle and has vomited",
        "how often should men check their testicles for lumps",
    ),
    "chemical_eye": (
        "drain cleaner splashed in my eye five minutes ago and it burns, I can barely open it",
        "what safety glasses should I wear when using bleach for cleaning",
    ),
    "bite": (
        "I was bitten by a snake on my ankle while hiking, the leg is swelling fast and I feel sick",
        "how do I remove a tick from my dog safely",
    ),
    "burn": (
        "my toddler pulled a kettle of boiling water onto herself, her chest and arm are blistering badly",
        "what should I put on a small burn from touching the oven tray",
    ),
    "choking": (
        "my dad is choking on a piece of steak, he can't speak or cough and is going red",
        "how do I learn back blows for a baby before ours is born",
    ),
    "unconscious": (
        "I found my neighbour on the floor, she won't respond when I shout or shake her",
        "what is the recovery position and when should it be used",
    ),
}

# Phrases the rules must always flag, one per category: the auditable floor.
RULE_CASES = {
    "stroke": "I think my husband is having a stroke",
    "heart_attack": "crushing chest pain spreading to my left arm",
    "anaphylaxis": "my throat is closing up after a bee sting",
    "breathing": "my baby is turning blue and gasping",
    "bleeding": "I cut my hand and it won't stop bleeding",
    "poisoning_overdose": "I took a whole bottle of tylenol an hour ago",
    "self_harm": "I want to kill myself",
    "seizure": "my child is having a seizure right now",
    "head_injury": "my husband fell, hit his head and is now vomiting and confused",
    "meningitis_sepsis": "my son has a stiff neck with a high fever",
    "infant_fever": "my 3 week old has a temperature of 38.2",
    "pregnancy": "I'm pregnant and have heavy bleeding and severe pain",
    "diabetic": "blood sugar very high and he keeps vomiting",
    "vision_loss": "I suddenly lost the vision in my left eye",
    "testicular": "sudden severe pain in my left testicle",
    "chemical_eye": "I got bleach in my eye",
    "bite": "my kid was bitten by a snake while hiking",
    "burn": "my friend was electrocuted",
    "choking": "she is choking on food and can't talk",
    "unconscious": "my mother collapsed and is unresponsive",
}
