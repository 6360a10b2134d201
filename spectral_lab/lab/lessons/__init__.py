"""Guided lessons: seven short lessons that mirror the notebooks. Each is data (plain words with every
symbol defined, a *predict first* question, the settings its button trains, follow-up experiments
that train a baseline beside the change) plus a takeaway written from the run's own numbers —
never a canned sentence. Each takeaway reads *when* things happen, not only the last step, and a run
that does not show the lesson's point says so: tests/test_lessons.py runs each lesson and the
counterfactuals a sceptical student would try (tests/test_lesson_counterfactuals.py).

    lesson = LESSONS["spectral-bias"]
    live = lesson_comparison(lesson)        # the app streams live.frames()
    result = lesson_takeaway(lesson, live.views, prediction=1)
    result.text      # "... ReLU with a positional encoding brought its low bands under 50 % error by step 35 ..."
    result.supports  # the choice the run supports (None: the run does not settle it)

One job per module: base (types), names (display names, symbols), readings (band errors over time,
equal-PSNR comparisons), bias / kernel / periodic / steering / cnn / denoising (the seven takeaways), catalogue
(the lessons, their settings and links).
"""
from .base import LEARNED, FollowUp, Lesson, Takeaway
from .catalogue import (BY_NUMBER, CNN_LESSON_SETTINGS, FIRST_LESSON, LESSONS, cnn_lesson_run, expand_link,
                        find_lesson, followup_link, lesson_comparison, lesson_settings, lesson_takeaway,
                        unknown_followup_note)
from .cnn import CnnLessonResult, CnnLessonRun, kernel_low_share
from .names import SYMBOLS, display_name
from .readings import psnr_at, read_bands

__all__ = ["BY_NUMBER", "CNN_LESSON_SETTINGS", "FIRST_LESSON", "FollowUp", "LEARNED", "LESSONS", "Lesson", "Takeaway",
           "CnnLessonResult", "CnnLessonRun", "SYMBOLS", "cnn_lesson_run", "display_name", "expand_link",
           "find_lesson", "followup_link", "kernel_low_share", "lesson_comparison", "lesson_settings",
           "lesson_takeaway", "psnr_at", "read_bands", "unknown_followup_note"]
