"""What callers of a bar and a salon say, in English: the text the recogniser's language model learns.

pocketsphinx's general English model hears little through a phone line (8 kHz, mu-law) and is
slow; a small model of the sentences this simulator's agents expect (asking for the menu,
ordering, booking, hours, names, numbers, greetings) is both fast and far more accurate. Words
outside it are not heard, so a caller who talks about something else gets the nearest in-domain
sentence: this is a simulator's ear, not a general recogniser.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Final

DRINKS: Final = (
    "beer", "beers", "a beer", "a draught beer", "ursus", "wine", "red wine", "white wine", "rose wine",
    "a glass of wine", "a glass of red wine", "a glass of white wine", "a bottle of wine", "a cocktail",
    "cocktails", "a mojito", "mojitos", "a virgin mojito", "a negroni", "an aperol spritz", "a spritz",
    "a margarita", "a gin and tonic", "whisky", "vodka", "rum", "a coffee", "coffee", "an espresso",
    "a cappuccino", "tea", "water", "still water", "sparkling water", "juice", "orange juice", "lemonade",
    "a lemonade", "a cola", "a coke", "soft drinks", "prosecco", "champagne", "salted almonds",
    "almonds", "snacks", "nuts", "fries", "olives",
)  # fmt: skip
CATEGORIES: Final = ("cocktails", "beers", "wines", "soft drinks", "snacks", "drinks")
SERVICES: Final = (
    "a haircut", "a hair cut", "a cut", "a trim", "a men's haircut", "a beard trim", "coloring",
    "hair coloring", "a color", "highlights", "a manicure", "a pedicure", "a blow dry", "styling",
    "a hairstyle", "a wash and cut",
)  # fmt: skip
NUMBERS: Final = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
)  # fmt: skip
DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WHEN: Final = (
    "today", "tonight", "tomorrow", "tomorrow morning", "tomorrow afternoon", "tomorrow evening",
    "this evening", "this afternoon", "next week", "the day after tomorrow",
    *(f"on {day}" for day in DAYS), *(f"next {day}" for day in DAYS), *(f"{day} morning" for day in DAYS),
)  # fmt: skip
TIMES: Final = (
    *NUMBERS,
    *(f"{n} o'clock" for n in NUMBERS),
    *(f"{n} thirty" for n in NUMBERS),
    *(f"{n} fifteen" for n in NUMBERS),
    *(f"{n} forty five" for n in NUMBERS),
    *(f"half past {n}" for n in NUMBERS),
    *(f"{n} p m" for n in NUMBERS),
    *(f"{n} a m" for n in NUMBERS),
    "noon",
    "midday",
)
WANT: Final = (
    "i would like", "i'd like", "i want", "can i have", "could i have", "can i get", "could i get",
    "i'll have", "i will have", "we would like", "we'd like", "give me", "let me have", "may i have",
)  # fmt: skip
NAMES: Final = (
    "john", "john smith", "maria", "maria popescu", "ana", "andrei", "elena", "mihai", "david", "sarah",
    "michael", "anna", "george", "ioana", "alex", "emma", "james", "laura",
)  # fmt: skip
DIGITS: Final = ("zero", "oh", *NUMBERS[:9])

SENTENCES: Final = (
    # the menu
    "what is on the menu", "what's on the menu", "what's on the menu today", "can i see the menu",
    "could i see the menu please", "can i have the menu", "show me the menu", "read me the menu",
    "can you read me the menu", "tell me what is on the menu", "tell me about the menu",
    "what do you have", "what have you got", "what do you serve", "what drinks do you have",
    "what drinks do you serve", "what kind of drinks do you have", "what do you have to drink",
    "what can i drink", "what can i order", "what's on the drinks menu", "what is on the drinks menu",
    "can i see the drinks menu", "could you tell me what drinks you serve", "what do you recommend",
    "what's good here", "what would you recommend", "what are your prices", "how much are the drinks",
    "what are the prices on the menu", "do you have a menu", "do you have food", "what food do you have",
    "what snacks do you have", "what is your cheapest drink", "do you have anything without alcohol",
    "do you have non alcoholic drinks",
    # ordering and the id check
    "i'd like to order", "i would like to order", "can i order", "can i place an order",
    "i want to order something", "that's my order", "same again please", "another one please",
    "my id number is", "here is my id", "my i d number is", "i am over eighteen", "i'm over eighteen",
    "i'm twenty five", "i am thirty years old", "can you check my id",
    # booking
    "i would like to make an appointment", "i'd like to make an appointment", "i want an appointment",
    "i want to book an appointment", "can i book an appointment", "can i make a booking",
    "i would like to make a reservation", "i'd like to make a reservation", "i'd like to book",
    "i want to book", "can i book", "book me in please", "i need an appointment",
    "please cancel my booking", "cancel my appointment", "i need to cancel my reservation",
    "i want to cancel my appointment", "i want to change my appointment", "can i move my appointment",
    "do i have an appointment", "when is my appointment", "what services do you offer",
    "what services do you have", "what do you offer", "what treatments do you have",
    "how long does it take", "how much does it cost", "what does it cost", "what is the price",
    "what are your opening hours", "when are you open", "what time do you open",
    "what time do you close", "are you open today", "are you open tomorrow", "are you open now",
    "is there a table free tonight", "is there anything free tomorrow", "what times are available",
    "when are you free", "what is available tomorrow", "do you have anything available",
    "do you have a free slot", "is there a free slot", "check availability for tomorrow",
    "can you check if you are free on friday", "am i already a client", "do you have my details",
    "look me up please", "i am a new client", "i have been here before",
    # talk
    "hello", "hi", "hi there", "hey", "hello there", "good morning", "good afternoon", "good evening",
    "thank you", "thanks", "thanks a lot", "thank you very much", "bye", "goodbye", "bye bye",
    "see you", "see you later", "have a nice day", "yes", "yes please", "yeah", "no", "no thanks",
    "no thank you", "okay", "ok", "sure", "great", "perfect", "fine", "that's all", "that is all",
    "nothing else", "that's it", "that's everything", "sorry", "sorry what", "excuse me",
    "can you repeat that", "repeat that please", "i didn't catch that", "what did you say",
    "i want to talk to a person", "can i speak to someone", "transfer me to a human",
    "let me talk to a manager", "can i pay by card", "the bill please", "can i have the bill",
    "how are you", "i'm fine thank you", "what is your name", "who am i talking to",
    "where are you", "what is your address", "how do i get there",
)  # fmt: skip


def sentences() -> Iterator[str]:
    """The corpus, one lower-case sentence at a time (words separated by single spaces)."""
    yield from SENTENCES
    for drink in DRINKS:
        yield from (
            f"do you have {drink}", f"how much is {drink}", f"how much does {drink} cost",
            f"what is the price of {drink}", f"is {drink} available", f"i would like to order {drink}",
            f"i'd like to order {drink}", f"can i order {drink}", f"{drink} please",
        )  # fmt: skip
        for want in WANT:
            yield f"{want} {drink}"
            yield f"{want} {drink} please"
        for number in NUMBERS[:6]:
            yield f"{number} {drink} please"
            yield f"i'd like to order {number} {drink}"
            yield f"can we have {number} {drink}"
    for category in CATEGORIES:
        yield from (
            f"what {category} do you have", f"which {category} do you have", f"do you have {category}",
            f"show me the {category}", f"what are your {category}", f"tell me about your {category}",
        )  # fmt: skip
    for service in SERVICES:
        yield from (
            f"how much is {service}", f"what does {service} cost", f"do you do {service}",
            f"how long does {service} take", f"i need {service}", f"i want {service}",
        )  # fmt: skip
        for when in WHEN:
            yield from (
                f"i would like to book {service} {when}", f"i'd like to book {service} {when}",
                f"can i book {service} {when}", f"i want to make an appointment for {service} {when}",
                f"do you have time for {service} {when}", f"is there a free slot for {service} {when}",
                f"book me {service} {when}",
            )  # fmt: skip
    for number in NUMBERS[:8]:
        for when in WHEN:
            yield from (
                f"i would like to book a table for {number} {when}",
                f"i'd like to book a table for {number} people {when}",
                f"can i reserve a table for {number} {when}", f"a table for {number} {when} please",
                f"do you have a table for {number} {when}",
            )  # fmt: skip
    for when, at in itertools.product(WHEN, TIMES):
        yield from (
            f"{when} at {at}", f"i would like to come {when} at {at}", f"can i come {when} at {at}",
            f"is {when} at {at} free", f"book me in {when} at {at}", f"are you free {when} at {at}",
        )  # fmt: skip
    for at in TIMES:
        yield f"at {at}"
        yield f"at {at} please"
    for name in NAMES:
        yield from (f"my name is {name}", f"i'm {name}", f"this is {name}", f"it's {name}", name)
    for digits in itertools.islice(itertools.product(DIGITS, repeat=3), 400):
        spoken = " ".join(digits)
        yield f"my phone number is {spoken}"
        yield f"my number is {spoken}"
        yield f"my id number is {spoken}"
        yield spoken
