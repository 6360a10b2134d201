"""The teacher's chart of one lesson: how many students chose each answer, one horizontal bar per
choice (the choices are sentences: they read along the bars), the run's answer in green.

Drawn with plotly directly: the engine's FigureSpec has no bar traces, and this figure is one panel.
"""
from __future__ import annotations

import textwrap

from .report import RUNS, LessonTally

MARKED, OTHER = "#2ca02c", "#9bb0cc"  # the run's answer; the other choices
FONT_SIZE = 12  # as the app's other figures (plots.FONT_SIZE): nothing under 11 px
LABEL_WIDTH = 30  # characters per line of a choice beside its bar
QUESTION_WIDTH = 90  # characters per line of the question under the title
CHART_HEIGHT = 300  # px: three bars, a two-line question and the note under the axis


def wrapped(text: str, width: int) -> str:
    return "<br>".join(textwrap.wrap(text, width)) or text


def choice_label(tally: LessonTally, index: int, marked: int) -> str:
    letter = "ABCDEFGH"[index]
    label = wrapped(f"{letter}. {tally.lesson.choices[index]}", LABEL_WIDTH)
    return f"<b>{label}</b>" if index == marked else label


def marked_note(tally: LessonTally) -> str:
    """The line under the axis that says what the green bar is."""
    marked, source = tally.run_answer()
    letter = "ABCDEFGH"[marked]
    if source != RUNS:
        return f"Green ({letter}): what this lesson's run shows; no student's run has ended yet."
    runs = sum(count for _, count in tally.shown)
    agreeing = tally.shown[0][1]
    if agreeing == runs:
        return f"Green ({letter}): what the class's {runs} finished run{'s' * (runs != 1)} showed."
    return f"Green ({letter}): what {agreeing} of the class's {runs} finished runs showed (runs differ by seed)."


def lesson_chart(tally: LessonTally):
    """One lesson's bar chart as a plotly Figure."""
    import plotly.graph_objects as go

    lesson, counts = tally.lesson, tally.counts
    marked, _ = tally.run_answer()
    total = tally.answers
    labels = [choice_label(tally, i, marked) for i in range(len(counts))]
    texts = [f"{n} ({100 * n / total:.0f} %)" if total else "0" for n in counts]
    bars = dict(type="bar", orientation="h", x=list(counts), y=labels, text=texts, textposition="outside",
                cliponaxis=False, marker=dict(color=[MARKED if i == marked else OTHER for i in range(len(counts))]),
                hovertemplate="%{x} students<extra></extra>")
    top = max(counts) if counts else 0
    answers = f"{total} answer{'s' * (total != 1)}"
    title = dict(text=f"Lesson {lesson.number} · {lesson.title} · {answers}", x=0.01, xanchor="left",
                 y=1.0, yanchor="top", yref="container", pad=dict(t=10), font=dict(size=FONT_SIZE + 2),
                 subtitle=dict(text=wrapped(lesson.question, QUESTION_WIDTH),
                               font=dict(size=FONT_SIZE - 1, color="#555555")))
    layout = dict(title=title, height=CHART_HEIGHT, margin=dict(l=8, r=24, t=70, b=64), showlegend=False,
                  font=dict(size=FONT_SIZE), plot_bgcolor="white", paper_bgcolor="white", bargap=0.35,
                  xaxis=dict(title=dict(text="students", standoff=4), range=[0, max(1.0, top * 1.3 + 0.5)],
                             tickformat="d", dtick=1 if top <= 6 else None, gridcolor="#e5e5e5",
                             showline=True, linecolor="#999999", fixedrange=True, rangemode="tozero"),
                  yaxis=dict(autorange="reversed", automargin=True, fixedrange=True, tickfont=dict(size=FONT_SIZE - 1)),
                  annotations=[dict(text=marked_note(tally), x=0, xref="paper", xanchor="left", y=0, yref="paper",
                                    yanchor="top", yshift=-34, showarrow=False,
                                    font=dict(size=FONT_SIZE - 1, color=MARKED))])
    return go.Figure(dict(data=[bars], layout=layout))

