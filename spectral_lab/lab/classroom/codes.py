"""The secrets of a class: its code (students type it), its teacher key (opens the answers), a student's
browser id (one student per browser), and the hashes the database keeps instead of the key and the id.

A class code is 10 symbols of Crockford's base 32 (50 bits, shown as ABCDE-FGHJK): short enough to
read out in a room, too many to guess: at a thousand tries a second (more than a server answers)
finding any one of a thousand classes takes about 36 years, and a code only adds answers, it never
reads them. A teacher key is 192 random bits (32 URL-safe characters); the database keeps only its
SHA-256, so a copy of the database opens no class.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from ...errors import SpectralLabError

# Crockford's base 32: digits and letters without I, L, O, U (misread as 1, 1, 0, V)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 5 bits a symbol: 50 bits
# what a student may mistype for a symbol (Crockford's decoding rules)
MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})
KEY_BYTES = 24  # 192 bits
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24): 32 characters
SALT_BYTES = 16
# A student's browser id: 144 random bits made by the server, kept in the browser's localStorage so a reload
# or a second tab is the same student. The browser sends it back, so it is checked like any other input.
STUDENT_BYTES = 18
STUDENT_PATTERN = re.compile(r"[A-Za-z0-9_-]{24}")  # secrets.token_urlsafe(18): 24 characters
MAX_TYPED = 40  # longer text is not a mistyped code: refused before any other work


class ClassError(SpectralLabError):
    """A class code, teacher key, lesson or answer that is malformed, unknown or over a limit."""


def new_class_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def new_teacher_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def new_student_id() -> str:
    return secrets.token_urlsafe(STUDENT_BYTES)


def student_id(text) -> str | None:
    """A browser's stored id when it has the shape the server gives ids; None for anything else (a
    missing, edited or foreign value: the page then gets a fresh id)."""
    return text if isinstance(text, str) and STUDENT_PATTERN.fullmatch(text) else None


def class_code(text) -> str:
    """The canonical code of what a student typed or a link carried ("abcde-fghjk" → "ABCDEFGHJK");
    ClassError when it cannot be one (the message never repeats the text: it may be anything)."""
    if not isinstance(text, str) or len(text) > MAX_TYPED:
        raise ClassError("That is not a class code: a class code is 10 letters and digits, like ABCDE-FGH12.")
    code = re.sub(r"[\s-]", "", text).upper().translate(MISREAD)
    if len(code) != CODE_LENGTH or any(symbol not in ALPHABET for symbol in code):
        raise ClassError("That is not a class code: a class code is 10 letters and digits, like ABCDE-FGH12.")
    return code


def shown_code(code: str) -> str:
    """A canonical code in two groups of five, as people read and type it."""
    return f"{code[:5]}-{code[5:]}"


def key_hash(key) -> str | None:
    """The stored form of a teacher key: SHA-256 in hex. A key of 192 random bits needs no salt or slow
    hash (nothing to guess from a dictionary). None for text that cannot be a key."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        return None
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def student_hash(salt: bytes, session: str) -> str:
    """Who answered, as the class's salted HMAC of the student's browser id (or, without one, the page's
    session): one answer per student and lesson, and no id in the database (the same browser in two
    classes is two strangers)."""
    return hmac.new(salt, session.encode("utf-8"), hashlib.sha256).hexdigest()
