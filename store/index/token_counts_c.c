/*
 * How often one term occurs in each of many documents' token tuples, in C.
 *
 * The C twin of store/index/token_counts.py's Python loop (tests/store/index/
 * test_token_counts_c.py holds the two to identical counts). Contract of term_counts():
 *
 *   term_counts(tokens, labels, term) -> bytes
 *
 *   tokens  a dict mapping a label to the tuple of its tokens (a TEXT field's
 *           FieldIndexes._text_tokens)
 *   labels  a list of labels; one absent from tokens counts 0
 *   term    a bytes object (exactly bytes: the Python twin answers for a subclass)
 *
 * returns len(labels) native int64 counts, count i being tokens[labels[i]].count(term).
 * An item equal to term is counted as tuple.count counts it: the same object, or a bytes
 * object with the same contents (compared here without a call), or any other object whose
 * == says so (PyObject_RichCompareBool). A value that is not a tuple is counted by
 * PySequence_Count, as its own count() would.
 *
 * Why: a one-term text query scores every matching document by the term's frequency
 * (store/index/scoring.py), and tuple.count through a Python call per document costs
 * ~150 ns of a text search's ~400 ns per document, most of it the call and the rich
 * comparison of every token.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static int count_in(PyObject *held, PyObject *term, int64_t *out) {
    const char *data = PyBytes_AS_STRING(term);
    Py_ssize_t size = PyBytes_GET_SIZE(term);
    if (!PyTuple_Check(held)) {
        Py_ssize_t n = PySequence_Count(held, term);
        if (n < 0) return -1;
        *out = (int64_t)n;
        return 0;
    }
    int64_t count = 0;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(held); j++) {
        PyObject *item = PyTuple_GET_ITEM(held, j);
        if (item == term) {
            count++;
        } else if (PyBytes_CheckExact(item)) {
            if (PyBytes_GET_SIZE(item) == size && memcmp(PyBytes_AS_STRING(item), data, size) == 0)
                count++;
        } else {
            Py_INCREF(item);
            int equal = PyObject_RichCompareBool(item, term, Py_EQ);
            Py_DECREF(item);
            if (equal < 0) return -1;
            count += equal;
        }
    }
    *out = count;
    return 0;
}

static PyObject *term_counts(PyObject *self, PyObject *args) {
    PyObject *tokens, *labels, *term;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyDict_Type, &tokens, &PyList_Type, &labels,
                          &PyBytes_Type, &term))
        return NULL;
    if (!PyBytes_CheckExact(term)) {
        PyErr_SetString(PyExc_TypeError, "term must be exactly bytes");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(labels);
    if (n > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(int64_t)) return PyErr_NoMemory();
    PyObject *result = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (result == NULL) return NULL;
    int64_t *counts = (int64_t *)PyBytes_AS_STRING(result);
    Py_INCREF(term);
    for (Py_ssize_t i = 0; i < n; i++) {
        /* a comparison may run Python code: hold what is read, re-check the list's size */
        if (i >= PyList_GET_SIZE(labels)) {
            PyErr_SetString(PyExc_RuntimeError, "labels changed size during term_counts");
            goto fail;
        }
        PyObject *label = PyList_GET_ITEM(labels, i);
        Py_INCREF(label);
        PyObject *held = PyDict_GetItemWithError(tokens, label);
        Py_DECREF(label);
        if (held == NULL) {
            if (PyErr_Occurred()) goto fail;
            counts[i] = 0;
            continue;
        }
        Py_INCREF(held);
        int failed = count_in(held, term, &counts[i]);
        Py_DECREF(held);
        if (failed) goto fail;
    }
    Py_DECREF(term);
    return result;
fail:
    Py_DECREF(term);
    Py_DECREF(result);
    return NULL;
}

static PyMethodDef methods[] = {
    {"term_counts", term_counts, METH_VARARGS,
     "term_counts(tokens, labels, term) -> bytes: native int64 counts of term in "
     "tokens[label] for each label (see store/index/token_counts.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "token_counts_c",
    "A term's count in many token tuples (the C twin of store/index/token_counts.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit_token_counts_c(void) { return PyModule_Create(&module); }
