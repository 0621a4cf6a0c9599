# Marks this folder as a pytest suite (pyloader test's runner detection).
