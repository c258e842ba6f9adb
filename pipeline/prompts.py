"""The DARC prompt wording: questioner, teacher (with the document) and student (question only).

Our own wording of DARC's rules: one self-contained question per document, difficulty level and
answer type; difficulty is defined operationally by the number of document spans and reasoning steps;
the answer is unique; the output is exactly one JSON object. The marker constants below are what the
simulated model matches on, so it sees exactly the prompt a real model sees.
"""

from __future__ import annotations

from pipeline.backends import Chat

QUESTIONER_MARKER = "You write one exam question grounded in a source passage."
TEACHER_MARKER = "Solve the question below. A reference passage is provided to help you."
STUDENT_MARKER = "Solve the question below on your own."
DOCUMENT_BEGIN, DOCUMENT_END = "<<<PASSAGE", "PASSAGE>>>"
QUESTION_BEGIN, QUESTION_END = "<<<QUESTION", "QUESTION>>>"

LEVEL_NAMES = {1: "easy", 2: "moderate", 3: "hard"}

# Operational definitions of difficulty (DARC's: spans used and reasoning steps taken).
LEVEL_RULES = {
    1: "uses one or two facts from a single place in the passage and needs one or two reasoning "
       "steps (a lookup or one simple transformation)",
    2: "combines at least two separate facts from the passage and needs two or three reasoning "
       "steps",
    3: "combines three or more facts from distant parts of the passage and needs five or more "
       "reasoning steps (multi-stage calculation or constrained synthesis)",
}

ANSWER_RULES = {
    "integer": "a whole number, written as a JSON integer",
    "float": "a decimal number, written as a JSON number with a decimal point; say in the question "
             "how to round it",
    "categorical": "one uppercase letter: the question lists at least three options, one per line, "
                   "labelled A., B., C., ... and exactly one is correct",
    "string": "a short phrase of at most a few words, given as a JSON string",
    "boolean": "true or false, as a JSON boolean",
    "expression": "a closed-form mathematical expression in LaTeX (e.g. 3x + 12), as a JSON string",
}

# How the solver must box each answer type (DARC's solver instructions, our wording).
BOX_RULES = {
    "integer": "Put only the final integer inside \\boxed{}.",
    "float": "Put only the final number inside \\boxed{}, rounded as the question asks.",
    "categorical": "Put only the letter of the correct option inside \\boxed{}, e.g. \\boxed{A}.",
    "string": "Put only the final short answer inside \\boxed{}.",
    "boolean": "Put only true or false inside \\boxed{}.",
    "expression": "Put only the final expression inside \\boxed{}.",
}

OUTPUT_KEYS = ("analysis", "question", "intermediate_results", "answer", "solving_time_estimate",
               "required_concepts", "potential_errors")


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, "hard")


def level_rule(level: int) -> str:
    """Levels beyond the three DARC defines read as the hardest one."""
    return LEVEL_RULES.get(level, LEVEL_RULES[3])


def questioner_chat(document: str, level: int, answer_type: str) -> Chat:
    """The questioner prompt for one document x level x answer type."""
    text = f"""{QUESTIONER_MARKER}
Read the passage, then write a single question that a careful reader could answer, with its answer.

{DOCUMENT_BEGIN}
{document}
{DOCUMENT_END}

Difficulty: level {level} ({level_name(level)}). At this level the question {level_rule(level)}.
Answer type: {answer_type}. The answer must be {ANSWER_RULES[answer_type]}.

Rules for the question:
- It stands on its own: a reader who never saw the passage understands every term and quantity in it.
- Never mention the passage, the text, the document or the source; state the facts it needs.
- Do not copy sentences from the passage; rephrase.
- Exactly one answer is correct, and it follows from the facts stated.
- The reasoning it needs matches the difficulty level above.

Reply with exactly one JSON object and nothing else, with these keys:
"analysis" (string: which facts you chose, how they map to the level, your working),
"question" (string: the question only, no hints),
"intermediate_results" (object: short step name -> result of that step),
"answer" ({answer_type}: as described above),
"solving_time_estimate" (number: minutes a good student needs),
"required_concepts" (array of 1-10 strings),
"potential_errors" (array of 1-10 strings: mistakes a student could make)."""
    return [{"role": "user", "content": text}]


def teacher_chat(document: str, question: str, answer_type: str) -> Chat:
    """The teacher sees the passage and the question (DARC's document-augmented teacher)."""
    text = f"""{TEACHER_MARKER}

{DOCUMENT_BEGIN}
{document}
{DOCUMENT_END}

{QUESTION_BEGIN}
{question}
{QUESTION_END}

Reason step by step. {BOX_RULES[answer_type]}"""
    return [{"role": "user", "content": text}]


def student_chat(question: str, answer_type: str) -> Chat:
    """The student sees the question only."""
    text = f"""{STUDENT_MARKER}

{QUESTION_BEGIN}
{question}
{QUESTION_END}

Reason step by step. {BOX_RULES[answer_type]}"""
    return [{"role": "user", "content": text}]


def between(text: str, begin: str, end: str) -> str | None:
    """The text between two markers (used by the sim to read back what a prompt carries)."""
    start = text.find(begin)
    if start < 0:
        return None
    start += len(begin)
    stop = text.find(end, start)
    return None if stop < 0 else text[start:stop].strip("\n")
