"""Sentences an assistant hears that no book holds: numbers, dates, clock times, names and short commands ("Set a
timer for ten minutes.", "Call Maria at three thirty."), already in their spoken form (`speech_words`)."""
from __future__ import annotations

import random
from collections.abc import Callable

from modrwkv.train.recipes.speech_words import MONTHS, date_words, number_words, ordinal_words, time_words, year_words

# first names from many languages that English speakers use, so that the model hears names it cannot guess
NAMES = """Maria John Aisha Wei Carlos Priya Mohammed Olga Kenji Fatima James Sofia Liam Chen Amara Diego Hannah
Ravi Yuki Omar Grace Ahmed Elena Noah Zara Luca Mei Daniel Ingrid Kwame Laura Pedro Anika Samuel Leila Viktor Rosa
Arjun Chloe Tomas Nadia Oscar Ling Ibrahim Emily Mateo Freya Hassan Julia Kofi Alice Andre Sara Dmitri Lucy Jamal
Ana Henrik Naomi Felix Yasmin George Isabel Tariq Beatrice Hugo Mina Patrick Leah Rahul Clara Ivan Amelia Sipho
Nora Jorge Keiko Ali Martha Stefan Ruth Emeka Paula Marcus Ines Bilal Eva Rajesh Vera Kai Helen Pablo Esther
Thomas Dalia Simon Olivia Mustafa Irene Benjamin Chiara Arturo Monica""".split()
CITIES = """London Paris Tokyo Chicago Nairobi Mumbai Sydney Toronto Berlin Madrid Cairo Lagos Boston Dublin Denver
Seattle Lisbon Vienna Prague Rome Athens Oslo Stockholm Helsinki Warsaw Moscow Istanbul Dubai Delhi Bangkok Manila
Singapore Seoul Beijing Shanghai Melbourne Auckland Lima Bogota Santiago Houston Atlanta Miami Phoenix Montreal
Vancouver Edinburgh Glasgow Manchester Liverpool Amsterdam Brussels Zurich Geneva Munich Milan Naples Barcelona
Seville Casablanca Accra Kampala Johannesburg""".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_UNITS = ("seconds", "minutes", "hours", "days", "weeks")
_ITEMS = ("eggs", "apples", "bananas", "onions", "carrots", "potatoes", "tomatoes", "lemons", "oranges",
          "bottles of milk", "loaves of bread", "cans of beans", "bags of rice", "packets of pasta", "rolls of tape",
          "boxes of tea", "batteries", "candles", "envelopes", "stamps")
_TASKS = ("buy milk", "call the dentist", "water the plants", "pay the rent", "take my medicine", "feed the cat",
          "walk the dog", "send the report", "book a table", "pick up the kids", "charge my phone", "back up the files",
          "renew my passport", "return the library books", "check the oven", "lock the back door")
_APPS = ("the lights", "the heating", "the radio", "the television", "the fan", "the music", "the alarm",
         "the kitchen lights", "the air conditioning", "the washing machine")


def _n(rng: random.Random, low: int, high: int) -> str:
    return number_words(rng.randint(low, high))


def _name(rng: random.Random) -> str:
    return rng.choice(NAMES)


def _city(rng: random.Random) -> str:
    return rng.choice(CITIES)


def _year(rng: random.Random) -> str:
    return year_words(rng.randint(1950, 2030))


def _time(rng: random.Random) -> str:
    return time_words(rng.randint(0, 23), rng.choice([0, 0, 5, 10, 15, 20, 25, 30, 30, 40, 45, 50, rng.randint(0, 59)]))


def _date(rng: random.Random, year: bool = False) -> str:
    return date_words(rng.randint(1, 12), rng.randint(1, 28), rng.randint(1900, 2039) if year else None)


def _digits(rng: random.Random, count: int) -> str:
    """A phone or account number, said digit by digit ("oh" for zero half the time, as people do)."""
    zero = rng.choice(["zero", "oh"])
    return " ".join(zero if d == 0 else number_words(d) for d in (rng.randint(0, 9) for _ in range(count)))


# one function per sentence pattern: only the chosen pattern draws its numbers and names
_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    lambda rng: f"set a timer for {_n(rng, 2, 90)} {rng.choice(_UNITS)}",
    lambda rng: f"set an alarm for {_time(rng)}",
    lambda rng: f"wake me up at {_time(rng)} tomorrow",
    lambda rng: f"call {_name(rng)} at {_time(rng)}",
    lambda rng: f"remind me to {rng.choice(_TASKS)} on {rng.choice(WEEKDAYS)}",
    lambda rng: f"remind me to {rng.choice(_TASKS)} at {_time(rng)}",
    lambda rng: f"text {_name(rng)} that I will be {_n(rng, 2, 45)} minutes late",
    lambda rng: f"what is {_n(rng, 2, 999)} plus {_n(rng, 2, 999)}?",
    lambda rng: f"what is {_n(rng, 2, 99)} times {_n(rng, 2, 99)}?",
    lambda rng: f"turn the volume up to {_n(rng, 1, 100)}",
    lambda rng: f"turn {rng.choice(['on', 'off'])} {rng.choice(_APPS)}",
    lambda rng: f"set the thermostat to {_n(rng, 15, 80)} degrees",
    lambda rng: f"the meeting with {_name(rng)} is on {rng.choice(WEEKDAYS)} at {_time(rng)}",
    lambda rng: f"the meeting is on {_date(rng)} at {_time(rng)}",
    lambda rng: f"{_name(rng)} was born on {_date(rng, year=True)}",
    lambda rng: f"my phone number is {_digits(rng, rng.choice([7, 10]))}",
    lambda rng: f"the code is {_digits(rng, rng.choice([4, 6]))}",
    lambda rng: f"it costs {_n(rng, 2, 999)} dollars and {_n(rng, 2, 99)} cents",
    lambda rng: f"it will be {_n(rng, 2, 40)} degrees in {_city(rng)} on {rng.choice(WEEKDAYS)}",
    lambda rng: f"add {_n(rng, 2, 12)} {rng.choice(_ITEMS)} to the shopping list",
    lambda rng: f"how far is it from {_city(rng)} to {_city(rng)}?",
    lambda rng: f"the flight to {_city(rng)} leaves at {_time(rng)} from gate {_n(rng, 1, 60)}",
    lambda rng: f"book a table for {_n(rng, 2, 12)} at {_time(rng)} on {rng.choice(WEEKDAYS)}",
    lambda rng: f"the train to {_city(rng)} is {_n(rng, 2, 59)} minutes late",
    lambda rng: f"read page {_n(rng, 1, 600)} of chapter {_n(rng, 1, 40)}",
    lambda rng: f"{_name(rng)} and {_name(rng)} moved to {_city(rng)} in {_year(rng)}",
    lambda rng: f"send {_name(rng)} {_n(rng, 2, 500)} dollars for the {ordinal_words(rng.randint(1, 30))} of "
                f"{rng.choice(MONTHS)}",
    lambda rng: f"it is {_time(rng)} in {_city(rng)}",
    lambda rng: f"what time is it in {_city(rng)}?",
    lambda rng: f"the {ordinal_words(rng.randint(1, 20))} floor room {_n(rng, 1, 999)}",
    lambda rng: f"ask {_name(rng)} to meet me at {_time(rng)} near the station",
    lambda rng: f"play the next song by {_name(rng)} and {_name(rng)}",
    lambda rng: f"the score was {_n(rng, 0, 9)} to {_n(rng, 0, 9)} in {_city(rng)} last night",
    lambda rng: f"I need {_n(rng, 2, 50)} copies by {rng.choice(WEEKDAYS)} at {_time(rng)}",
    lambda rng: f"{_name(rng)} paid {_n(rng, 2, 9999)} dollars for the car in {_year(rng)}",
)

def generated_sentences(n: int, seed: int) -> list[str]:
    """`n` distinct generated sentences, capitalised and ending with a full stop or a question mark."""
    if n < 0:
        raise ValueError(f"generated_sentences: n must be >= 0, got {n}")
    rng, seen = random.Random(seed), {}
    for _ in range(20 * n + 100):  # the templates hold far more than n sentences; the bound stops a bad n
        if len(seen) == n:
            break
        text = rng.choice(_TEMPLATES)(rng)
        text = text[0].upper() + text[1:]
        seen.setdefault(text if text.endswith("?") else text + ".", None)
    if len(seen) < n:
        raise ValueError(f"generated_sentences: only {len(seen)} distinct sentences, {n} asked")
    return list(seen)
