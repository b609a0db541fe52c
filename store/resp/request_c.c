/*
 * The common case of RequestParser (store/resp/parser.py) in C: complete, well-formed
 * multibulk commands.
 *
 *   complete_commands(data, pos, limit, max_count, max_bulk) -> (commands, pos)
 *
 * From offset pos of the bytes data, reads up to limit commands of the form
 *
 *   *<count>\r\n  then count times  $<len>\r\n<len bytes>\r\n
 *
 * where each count and len is written as string2ll's strict form spells a non-negative
 * number (digits, no leading zero: so "0" alone), 1 <= count <= max_count and
 * len <= max_bulk. It returns the commands (lists of bytes) and the offset after the last
 * one. It stops, without consuming anything of it, at the first command that is not
 * complete in data or not of that form: an inline request, an empty or negative count, a
 * header another form spells, a missing line feed, a payload not followed by \r\n, a limit
 * exceeded. The Python parser then reads that command itself, so every error, limit,
 * partial read and non-strict line ending keeps exactly the Python behaviour
 * (tests/store/test_resp_parser_c.py feeds both the same streams, split anywhere).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The number the header digits at s[from..) spell up to the \r that must end them: -1 when
   they do not spell one in the form above (or it exceeds limit), -2 when the line is not
   complete in s[..end). *after is set to the offset after the header's \r\n. */
static long long header_value(const char *s, Py_ssize_t from, Py_ssize_t end, long long limit,
                              Py_ssize_t *after) {
    Py_ssize_t i = from;
    long long value = 0;
    while (i < end && s[i] >= '0' && s[i] <= '9') {
        if (i - from >= 18) {
            return -1; /* longer than any limit here: the Python path decides */
        }
        value = value * 10 + (s[i] - '0');
        i++;
    }
    if (i + 1 >= end) {
        return -2;
    }
    Py_ssize_t digits = i - from;
    if (digits == 0 || (digits > 1 && s[from] == '0') || s[i] != '\r' || s[i + 1] != '\n' ||
        value > limit) {
        return -1;
    }
    *after = i + 2;
    return value;
}

static PyObject *complete_commands(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, limit;
    long long max_count, max_bulk;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnLL", &view, &pos, &limit, &max_count, &max_bulk)) {
        return NULL;
    }
    const char *s = view.buf;
    Py_ssize_t end = view.len;
    PyObject *commands = PyList_New(0);
    if (commands == NULL || pos < 0 || pos > end) {
        if (commands != NULL) {
            Py_DECREF(commands);
            PyErr_SetString(PyExc_ValueError, "pos outside data");
        }
        PyBuffer_Release(&view);
        return NULL;
    }
    while (PyList_GET_SIZE(commands) < limit && pos < end && s[pos] == '*') {
        Py_ssize_t at;
        long long count = header_value(s, pos + 1, end, max_count, &at);
        if (count < 1 || count > (end - at) / 6) { /* an argument takes 6 bytes at least */
            break;
        }
        PyObject *argv = PyList_New((Py_ssize_t)count);
        if (argv == NULL) {
            goto fail;
        }
        Py_ssize_t filled = 0;
        while (filled < count) {
            if (at >= end || s[at] != '$') {
                break;
            }
            Py_ssize_t payload;
            long long len = header_value(s, at + 1, end, max_bulk, &payload);
            if (len < 0 || payload + len + 2 > end || s[payload + len] != '\r' ||
                s[payload + len + 1] != '\n') {
                break;
            }
            PyObject *arg = PyBytes_FromStringAndSize(s + payload, (Py_ssize_t)len);
            if (arg == NULL) {
                Py_DECREF(argv); /* the unfilled slots are NULL: list_dealloc skips them */
                goto fail;
            }
            PyList_SET_ITEM(argv, filled, arg);
            filled++;
            at = payload + len + 2;
        }
        if (filled < count) { /* not complete or not plain: the Python parser reads it */
            Py_DECREF(argv);
            break;
        }
        int appended = PyList_Append(commands, argv);
        Py_DECREF(argv);
        if (appended < 0) {
            goto fail;
        }
        pos = at;
    }
    PyBuffer_Release(&view);
    PyObject *result = Py_BuildValue("(Nn)", commands, pos);
    return result;
fail:
    Py_DECREF(commands);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"complete_commands", complete_commands, METH_VARARGS,
     "complete_commands(data, pos, limit, max_count, max_bulk) -> (commands, pos): the "
     "complete, well-formed multibulk commands at pos (see store/resp/request_c.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "request_c",
    "RequestParser's common case in C: complete, well-formed multibulk commands.",
    -1, methods,
};

PyMODINIT_FUNC PyInit_request_c(void) { return PyModule_Create(&module); }
