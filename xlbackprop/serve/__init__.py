"""`xlbackprop serve`: a web page where a student drops a workbook and sees what is wrong, and how to fix it.

app.py holds the routes, jobs.py the queue and the worker processes that validate, limits.py what an upload
may be, grid.py the table as the sheet lays it out, templates/ and static/ the page.
"""
