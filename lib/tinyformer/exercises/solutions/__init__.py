"""Worked solutions to the exercises, one module per notebook: try the exercise first.

Each module holds one function per exercise, with the exercise's exact signature, and the tests
run every `check_...()` on it (tests/test_exercise_solutions.py). They are kept here, out of the
notebooks, so a learner meets the stub and the hint before the answer.
"""
