"""The notebooks' parameters: LSTM_<NAME> environment variables, converted and checked.

The parameters cells call `parameter()` for each one, so a bad value stops the notebook
before anything is compiled, with a one-line ParameterError naming the variable, the value
and what is allowed; `check_parameters()` then warns about a misspelt LSTM_* variable.
"""
import difflib
import math
import os
import shlex
import tempfile
import warnings

# Every LSTM_* variable the project reads (both notebooks, lstm_text, tools/run_notebook.py),
# so that a misspelt one (LSTM_EPOCH=10) is reported instead of silently ignored.
KNOWN_VARIABLES = {
    "LSTM_TEXT_BLAS", "LSTM_TEXT_COMPILEDIR", "LSTM_TEXT_HEADLESS",
    "LSTM_EPOCHS", "LSTM_REPORT_EVERY", "LSTM_MAX_MINIBATCHES", "LSTM_N_H",
    "LSTM_BATCH_SIZE", "LSTM_LEARNING_RATE", "LSTM_MAX_GRAD_NORM", "LSTM_SEED",
    "LSTM_SAMPLE_LENGTH", "LSTM_CORPUS", "LSTM_OUTPUT_DIR",
    "LSTM_EXPERIMENT_SECONDS", "LSTM_EXPERIMENT_MINIBATCHES", "LSTM_EXPERIMENT_VALID_EVERY",
    "LSTM_EXPERIMENTS", "LSTM_EXPERIMENT_EXTRA_SECONDS",
    "LSTM_EXPERIMENTS_DIR", "LSTM_EXPERIMENTS_DOCS_DIR", "LSTM_INSIDE_MODEL", "LSTM_INSIDE_CHARS",
}
_read_here = set()  # the variables parameter() has read in this process


class ParameterError(ValueError):
    """A notebook parameter (an LSTM_* variable) is unusable; the message is one line."""


def folder(value):
    """A `type_` for parameter(): a folder that can be written, created now if missing and
    tested with a small file, so that a bad one stops the notebook before it trains, not
    after ('' stays '': no folder)."""
    if not value:
        return value
    path = os.path.abspath(value)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError("%s is a file" % path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-") as probe:
            probe.write(b"x")
            probe.flush()
    except OSError as error:
        raise ValueError("%s cannot be written to (%s)" % (path, error.strerror or error)) \
            from None
    return value


def _allowed(type_, minimum, maximum, above, choices):
    """What parameter() accepts, in words: 'an integer >= 1', 'one of austen, tiny'."""
    if choices is not None:
        return "one of " + ", ".join(str(choice) for choice in choices)
    what = {int: "an integer", float: "a finite number", str: "text",
            folder: "a folder that can be written (created if missing)"}.get(type_, getattr(type_, "__name__", "?"))
    if minimum is not None and maximum is not None:
        return "%s from %s to %s" % (what, minimum, maximum)
    bounds = ["> %s" % above] if above is not None else []
    bounds += [">= %s" % minimum] if minimum is not None else []
    bounds += ["<= %s" % maximum] if maximum is not None else []
    return " ".join([what] + bounds)


def _convert(text, type_):
    """`text` as `type_`; ValueError (with a reason, or none) when it is not one."""
    if type_ is int:
        return int(text.strip())            # '4.0', '1e3' and '' are refused
    if type_ is float:
        number = float(text.strip())
        if not math.isfinite(number):
            raise ValueError("")
        return number
    return type_(text)


def parameter(name, default, type_=int, minimum=None, maximum=None, above=None, choices=None):
    """The value of LSTM_<name> (else `default`) as `type_`, checked; else ParameterError.

    `minimum`/`maximum` are inclusive bounds and `above` an exclusive lower one; `choices`
    lists the allowed values. NaN and infinite floats are refused, and an empty value unless
    the default is empty too. The error is one line: LSTM_BATCH_SIZE=0: must be an integer >= 1.
    """
    variable = "LSTM_" + name
    _read_here.add(variable)
    text = os.environ.get(variable)
    shown = ("%s=%s" % (variable, shlex.quote(text)) if text is not None
             else "%s (not set; the default %r)" % (variable, default))
    allowed = _allowed(type_, minimum, maximum, above, choices)
    if text is not None and not text.strip() and type_ not in (int, float):
        if str(default) == "":
            return ""  # an empty default means 'none' (e.g. no copy of the results)
        raise ParameterError("%s: must be %s, not empty" % (shown, allowed))
    try:
        value = _convert(str(default) if text is None else text, type_)
    except (TypeError, ValueError) as error:
        reason = str(error) if type_ not in (int, float) and str(error) else ""
        raise ParameterError("%s: must be %s%s" % (shown, allowed, reason and "; " + reason)) \
            from None
    if ((choices is not None and value not in choices)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
            or (above is not None and value <= above)):
        raise ParameterError("%s: must be %s" % (shown, allowed))
    return value


def check_parameters():
    """Warn about LSTM_* variables that nothing reads (a typo), naming the likely one."""
    known = KNOWN_VARIABLES | _read_here
    for variable in sorted(os.environ):
        if variable.startswith("LSTM_") and variable not in known:
            close = difflib.get_close_matches(variable, sorted(known), n=1)
            warnings.warn("%s is set but no parameter reads it%s" % (
                variable, "; did you mean %s?" % close[0] if close else ""), stacklevel=2)
