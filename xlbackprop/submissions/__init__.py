"""A class handing in workbooks: the roster (roster.py), the submissions kept safe (store.py), their grading
(grading.py, saved_results.py), the teacher's token and the slowing of guesses (token.py, throttle.py), and
the gradebooks for Canvas, Moodle and Excel (gradebook.py) and Gradescope (gradescope.py)."""
