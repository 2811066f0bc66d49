"""Where DSR files are read into usage lines, one module per job: `detect.py` tells a file's format
from its content, `filenames.py` parses the names of both formats, `blocks.py` reads a file of
either format into blocks and whole lines, `tsv.py` and `dsrf.py` turn those into validated COPY
text (`usage_lines.py` is what they hand over), `values.py` bounds the numbers a line carries."""
