"""Numbers, years, times and dates as a transcriber writes them: in words, since the speech model is taught to
write what it hears and a voice says "twenty five", never "25"."""
from __future__ import annotations

import re

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                    "nine": "ninth", "twelve": "twelfth"}
MONTHS = ("January February March April May June July August September October November December").split()


def number_words(n: int) -> str:
    """`n` in words, without "and" or hyphens: 1925 -> "one thousand nine hundred twenty five"."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"number_words: expected an int, got {type(n).__name__}")
    if n < 0:
        return "minus " + number_words(-n)
    if n >= 10**15:
        raise ValueError(f"number_words: {n} is too large to say (at most {10**15 - 1})")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + (" " + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + " hundred" + (" " + number_words(n % 100) if n % 100 else "")
    for scale, name in _SCALES:
        if n >= scale:
            rest = n % scale
            return f"{number_words(n // scale)} {name}" + (" " + number_words(rest) if rest else "")
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """`n` as an ordinal in words: 21 -> "twenty first", 100 -> "one hundredth"."""
    if n < 1:
        raise ValueError(f"ordinal_words: expected a positive int, got {n}")
    *head, last = number_words(n).split()
    if last in _ORDINAL_ENDINGS:
        last = _ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def year_words(year: int) -> str:
    """A year as it is read aloud: 1066 -> "ten sixty six", 1905 -> "nineteen oh five", 2000 -> "two thousand",
    2024 -> "twenty twenty four"."""
    if not 1 <= year <= 9999:
        raise ValueError(f"year_words: expected a year from 1 to 9999, got {year}")
    century, rest = divmod(year, 100)
    if year < 1000 or century % 10 == 0 and rest < 10:  # 2000-2009 and years below 1000 are said as numbers
        return number_words(year)
    if rest == 0:
        return number_words(century) + " hundred"
    return f"{number_words(century)} {'oh ' + _ONES[rest] if rest < 10 else number_words(rest)}"


def time_words(hour: int, minute: int) -> str:
    """A clock time as people say it: (3, 30) -> "three thirty", (7, 5) -> "seven oh five", (9, 0) -> "nine
    o'clock"; 24-hour times are said on the 12-hour clock."""
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"time_words: expected hour 0-23 and minute 0-59, got {hour}:{minute:02d}")
    if (hour, minute) == (12, 0):
        return "noon"
    if (hour, minute) == (0, 0):
        return "midnight"
    spoken_hour = number_words(hour % 12 or 12)
    if minute == 0:
        return f"{spoken_hour} o'clock"
    return f"{spoken_hour} {'oh ' + _ONES[minute] if minute < 10 else number_words(minute)}"


def date_words(month: int, day: int, year: int | None = None) -> str:
    """A date as an American reads it: (7, 4, 1776) -> "July fourth seventeen seventy six"."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError(f"date_words: expected month 1-12 and day 1-31, got {month}/{day}")
    text = f"{MONTHS[month - 1]} {ordinal_words(day)}"
    return f"{text} {year_words(year)}" if year is not None else text


_NUMBER = re.compile(r"(?<![\w.-])(\$?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(st|nd|rd|th|s|%)?(?!\w|[.-]\d)")


def spell_numbers(text: str) -> str:
    """Every number of `text` in words: "1,200 men" -> "one thousand two hundred men", "in 1848" -> "in eighteen
    forty eight", "3.5%" -> "three point five percent", "$20" -> "twenty dollars", "the 3rd" -> "the third",
    "the 1960s" -> "the nineteen sixties". Digits it cannot read (a "2x4", a phone number's hyphens, "007", a
    number of 16 digits or more) are left for the caller's character check to refuse."""

    def say(m: re.Match) -> str:
        dollar, whole, fraction, suffix = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        n = int(whole.replace(",", ""))
        if n >= 10**15 or (whole.startswith("0") and len(whole) > 1):  # not read as a number ("007", a serial)
            return m.group(0)
        if suffix in ("st", "nd", "rd", "th") and not fraction and n > 0:
            return ordinal_words(n)
        if suffix == "s" and not fraction and len(whole) == 4 and whole.endswith("0"):  # a decade: the 1960s
            words = year_words(n)
            return (words[:-1] + "ies") if words.endswith("y") else words + "s"
        if len(whole) == 4 and "," not in whole and not fraction and not dollar and not suffix \
                and 1100 <= n <= 2099:  # a bare four-digit number in running text is almost always a year
            words = year_words(n)
        else:
            words = number_words(n)
        if fraction:
            words += " point " + " ".join(_ONES[int(d)] for d in fraction)
        if suffix == "%":
            words += " percent"
        if dollar:
            words += " dollar" if n == 1 and not fraction else " dollars"
        return words

    return _NUMBER.sub(say, text)
