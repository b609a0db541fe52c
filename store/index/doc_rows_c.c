/*
 * The table rows of many labels, read from DocColumns' label -> row dict in one C loop.
 *
 * The reference is DocColumns.python_rows() in store/index/doc_columns.py; this module
 * returns the same rows without a Python-level call per label
 * (tests/store/index/test_doc_rows_c.py holds the two to identical results). Contract:
 *
 *   rows(row_of, labels) -> bytearray
 *
 *   row_of  a dict: label -> row (an int that fits in int64)
 *   labels  a sequence of labels (a list or tuple is read without copying)
 *
 * The result holds one native-endian int64 per label, in order: its row, or -1 for a label
 * the dict does not hold (a bytearray, so the numpy array over it is writable, as the
 * twin's is). Lookups hash and compare as dict.get does; an error raised there
 * (an unhashable label) or by a row that is not an int fitting int64 propagates.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *rows(PyObject *self, PyObject *args) {
    PyObject *row_of, *labels;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &row_of, &labels)) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(labels, "labels must be a sequence");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    char *at = PyByteArray_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        /* the sequence is re-read each time: a lookup may run a label's __eq__ */
        PyObject *label = PySequence_Fast_GET_ITEM(seq, i);
        Py_INCREF(label);
        PyObject *row = PyDict_GetItemWithError(row_of, label);
        Py_DECREF(label);
        int64_t value = -1;
        if (row != NULL) {
            Py_INCREF(row);
            long long got = PyLong_AsLongLong(row);
            Py_DECREF(row);
            if (got == -1 && PyErr_Occurred()) {
                goto fail;
            }
            value = (int64_t)got;
        } else if (PyErr_Occurred()) {
            goto fail;
        }
        memcpy(at + i * (Py_ssize_t)sizeof value, &value, sizeof value);
        if (PySequence_Fast_GET_SIZE(seq) != n) { /* a list changed under a lookup */
            PyErr_SetString(PyExc_RuntimeError, "labels changed size during the lookup");
            goto fail;
        }
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"rows", rows, METH_VARARGS,
     "rows(row_of, labels) -> bytearray: each label's row as a native int64, -1 when absent "
     "(see store/index/doc_columns.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "doc_rows_c",
    "DocColumns' label -> row lookups in C (the twin of DocColumns.python_rows).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_doc_rows_c(void) { return PyModule_Create(&module); }
